// Behaviour every page shares, kept out of the HTML so the Content-Security-Policy allows no inline script.
document.addEventListener("DOMContentLoaded", function () {
  var language = document.getElementById("lang-select");
  if (language) {
    language.addEventListener("change", function () {
      language.form.elements.next.value = location.pathname + location.search;
      language.form.submit();
    });
  }
});
