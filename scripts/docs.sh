#!/usr/bin/env bash
# Builds the book in docs/ into docs/book (not committed) and fails on a broken internal link.
#
#   scripts/docs.sh
#
# Installs mdBook when it is missing: Debian's package when the release has one (seconds),
# otherwise the pinned version from crates.io (a few minutes of compiling). Needs no network
# beyond that install: links are checked locally, not fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

MDBOOK_VERSION=0.5.4
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! command -v mdbook >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  if apt-cache policy mdbook 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    echo "== installing mdbook (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mdbook >/dev/null
  fi
fi
if ! command -v mdbook >/dev/null 2>&1; then
  echo "== installing mdbook $MDBOOK_VERSION (cargo install; takes a few minutes)" >&2
  # Without the `serve` and `watch` features: `mdbook build` needs neither.
  cargo install mdbook --version "$MDBOOK_VERSION" --locked --quiet \
    --no-default-features --features search
fi

# Every relative link in the book, the README and CONTRIBUTING.md must name an existing file,
# and an `#anchor` into a Markdown file must name one of its headings. Links inside the book
# must stay inside docs/src: mdBook publishes nothing else.
echo "== link check" >&2
python3 - <<'PY'
import pathlib, re, sys

root = pathlib.Path.cwd()
book = root / "docs" / "src"
files = sorted(book.rglob("*.md")) + [root / "README.md", root / "CONTRIBUTING.md"]
link = re.compile(r"\]\(([^)\s]+)\)")
fence = re.compile(r"^\s*(```|~~~)")

def text_outside_code(path):
    out, in_fence = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if fence.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            out.append(re.sub(r"`[^`]*`", "", line))
    return out

def slugs(path):
    # mdBook's heading ids: the heading's text in lower case, spaces as '-', every other
    # character that is not alphanumeric, '-' or '_' dropped.
    found = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if fence.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "")
            found.add("".join(c for c in text.lower() if c.isalnum() or c in " -_").replace(" ", "-"))
    return found

errors = []
for path in files:
    if not path.exists():
        continue
    for n, line in enumerate(text_outside_code(path), 1):
        for target in link.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            dest, _, anchor = target.partition("#")
            where = f"{path.relative_to(root)}: link {target!r}"
            resolved = (path.parent / dest).resolve() if dest else path
            if not resolved.exists():
                errors.append(f"{where}: no such file {resolved.relative_to(root) if resolved.is_relative_to(root) else resolved}")
                continue
            if path.is_relative_to(book) and not resolved.is_relative_to(book):
                errors.append(f"{where}: leaves docs/src (the book publishes only docs/src)")
                continue
            if anchor and resolved.suffix == ".md" and anchor not in slugs(resolved):
                errors.append(f"{where}: no heading #{anchor} in {resolved.relative_to(root)}")
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
PY

echo "== mdbook build docs" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
mdbook build docs 2>&1 | tee "$log" >&2
if grep -E '\b(WARN|ERROR)\b' "$log" >/dev/null; then
  echo "mdbook reported warnings or errors (above)" >&2
  exit 1
fi

# Against the built HTML: every page a book link points to was rendered (it is in SUMMARY.md),
# and every #anchor is an id mdBook gave a heading.
echo "== anchor check (built pages)" >&2
python3 - <<'PY'
import pathlib, re, sys

src = pathlib.Path("docs/src").resolve()
out = pathlib.Path("docs/book").resolve()
errors = []
for page in sorted(src.rglob("*.md")):
    if page.name == "SUMMARY.md":
        continue
    name = page.relative_to(src)
    if not (out / name).with_suffix(".html").exists():
        errors.append(f"docs/src/{name} is not in SUMMARY.md: mdBook did not render it")
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        dest, _, anchor = target.partition("#")
        if re.match(r"^[a-z][a-z0-9+.-]*:", dest) or (dest and not dest.endswith(".md")):
            continue
        linked = (page.parent / dest).resolve() if dest else page
        if not linked.is_relative_to(src):
            continue  # reported by the link check above
        html = (out / linked.relative_to(src)).with_suffix(".html")
        if not html.exists():
            errors.append(f"docs/src/{name}: link {target!r}: page not rendered")
        elif anchor and f'id="{anchor}"' not in html.read_text(encoding="utf-8"):
            errors.append(f"docs/src/{name}: link {target!r}: no such anchor in the built page")
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
PY
echo "== the book: docs/book/index.html" >&2

# The SDK's API documentation: every intra-doc link resolves and none points into a private
# module, with the default features and with all of them.
echo "== rustdoc: the SDK's API documentation without warnings" >&2
RUSTDOCFLAGS="-D warnings" cargo doc -q -p authsec --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -q -p authsec --no-deps --all-features
