"""User-written email templates in a sandbox: Jinja2's SandboxedEnvironment over plain dicts.

Templates are written by users, so they must not reach settings, models or Python internals:
they see only the plain values built here (strings, numbers, lists, dicts), the sandbox refuses
private attributes and unsafe calls, and a template is checked when it is saved, naming its
syntax errors and any variable it uses that will not exist when it is sent."""

import functools

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_SOURCE = 200_000
MAX_OUTPUT = 1_000_000

# What every template may use: object -> its fields. `unsubscribe_url` is filled in per message.
OBJECTS: dict[str, tuple[str, ...]] = {
    "contact": ("name", "email", "title", "role", "is_key_person"),
    "account": ("name", "domain", "industry", "region", "province", "city", "lifecycle_stage", "health_band"),
    "owner": ("name", "email"),
    "company": ("name",),
}
SCALARS = ("unsubscribe_url",)


class TemplateProblem(ValueError):
    """A template that cannot be used, with a message that names the line or variable."""


class Sandbox(SandboxedEnvironment):
    """The sandbox, plus a bound on `*` and `**`, with which one line could ask for gigabytes."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int | float) and abs(right) > 100:
            raise SecurityError("exponents above 100 are not allowed in templates")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_OUTPUT
                ):
                    raise SecurityError("the template would make a value too large")
        return super().call_binop(context, operator, left, right)


_html = Sandbox(autoescape=True, undefined=StrictUndefined)
_plain = Sandbox(autoescape=False, undefined=StrictUndefined)


def check(source: str, extra_variables: tuple[str, ...] = (), *, html: bool = False) -> None:
    """Raise TemplateProblem if the template does not parse or uses a variable that will not exist."""
    if len(source) > MAX_SOURCE:
        raise TemplateProblem(f"is longer than {MAX_SOURCE:,} characters")
    env = _html if html else _plain
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"line {exc.lineno}: {exc.message}") from None
    from jinja2 import meta

    known = set(OBJECTS) | set(SCALARS) | set(extra_variables)
    unknown = sorted(meta.find_undeclared_variables(tree) - known)
    if unknown:
        raise TemplateProblem(
            f"unknown variable {', '.join(unknown)} (available: {', '.join(sorted(known))})"
        )
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(attr, str) and attr.startswith("_"):
            raise TemplateProblem(f"line {node.lineno}: {attr!r} is private and cannot be used")
        target = node.node
        if isinstance(target, nodes.Name) and target.name in OBJECTS and isinstance(attr, str):
            if attr not in OBJECTS[target.name]:
                raise TemplateProblem(
                    f"line {node.lineno}: unknown variable {target.name}.{attr} "
                    f"(available: {', '.join(f'{target.name}.{f}' for f in OBJECTS[target.name])})"
                )


@functools.lru_cache(maxsize=256)
def _compiled(source: str, html: bool):
    """Compiling costs far more than rendering; a batch renders the same few sources."""
    return (_html if html else _plain).from_string(source)


def render(source: str, values: dict, *, html: bool = False) -> str:
    """Render with plain values only; TemplateProblem names what went wrong."""
    try:
        output = _compiled(source, html).render(values)
    except SecurityError as exc:
        raise TemplateProblem(f"not allowed: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(str(exc)) from None
    if len(output) > MAX_OUTPUT:
        raise TemplateProblem(f"the message would be longer than {MAX_OUTPUT:,} characters")
    return output


def plain(value, where: str = "context"):
    """A deep copy made only of JSON-like values; anything else (a model, a function) is refused,
    so nothing with methods or attributes reaches a template."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if not isinstance(key, str):
                raise TemplateProblem(f"{where} has a key that is not text: {key!r}")
            out[key] = plain(inner, f"{where}.{key}")
        return out
    raise TemplateProblem(
        f"{where} is a {type(value).__name__}, not plain data (text, numbers, lists, dicts)"
    )
