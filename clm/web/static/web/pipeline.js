// The pipeline board: dropping a card on another column submits the card's own "Move to" form
// with that column's stage, so a drag and the keyboard path take the same road to the server.
(function () {
  "use strict";
  var board = document.querySelector(".board");
  if (!board) return;
  var dragged = null;
  board.addEventListener("dragstart", function (e) {
    var card = e.target.closest(".deal");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.deal);
  });
  board.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    board.querySelectorAll(".column.over").forEach(function (c) { c.classList.remove("over"); });
  });
  board.addEventListener("dragover", function (e) {
    var column = e.target.closest(".column");
    if (!column || !dragged) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".column.over").forEach(function (c) { if (c !== column) c.classList.remove("over"); });
    column.classList.add("over");
  });
  board.addEventListener("drop", function (e) {
    var column = e.target.closest(".column");
    if (!column || !dragged) return;
    e.preventDefault();
    var form = dragged.querySelector("form.move");
    var select = form.querySelector("select[name=stage]");
    if (select.value === column.dataset.stage) return;
    select.value = column.dataset.stage;
    form.submit();
  });
})();
