#!/usr/bin/env python3
"""Man pages for the C API, from include/oauth2cc.h's doc comments (standard library only).

    man_pages.py HEADER OVERVIEW_MD OUT_DIR VERSION [EXAMPLE_MD...]

Writes OUT_DIR/<function>.md for every `oauth2cc_*` function the header declares, and
OUT_DIR/oauth2cc.md (the overview, `man 3 oauth2cc`): pandoc Markdown with the sections of a
C library's man page (NAME, SYNOPSIS, DESCRIPTION, RETURN VALUE, ARGUMENTS, THREAD SAFETY,
EXAMPLE, SEE ALSO). scripts/docs.sh turns each into roff with pandoc. Everything comes from
the header (the comment above each declaration, the declaration itself, the doc comment of
the handle type it takes) and from the tested C examples of the Markdown files given, so a
page cannot say something the header does not. A function without a doc comment is an
error: exit status 1, naming it.
"""

import re
import sys
from pathlib import Path

COMMENT_THEN_DECL = re.compile(
    r"/\*\*(?P<doc>.*?)\*/\s*\n(?P<decl>[^#/{}]*?;)", re.S
)
FUNCTION_NAME = re.compile(r"\b(oauth2cc_\w+)\s*\(")
TYPE_DOC = re.compile(
    r"/\*\*(?P<doc>.*?)\*/\s*\ntypedef (?:struct|enum) (?P<name>oauth2cc_\w+)", re.S
)
HANDLE_PARAM = re.compile(r"(const )?struct (oauth2cc_(?:client|config|authorization|response)) \*")
MENTION = re.compile(r"`(oauth2cc_[a-z0-9_]+)(?:\(\))?`")


def comment_text(raw):
    """The Markdown inside a /** ... */ block: the leading ` * ` of each line removed."""
    lines = []
    for line in raw.strip("\n").split("\n"):
        line = line.strip()
        if line.startswith("*"):
            line = line[1:]
            if line.startswith(" "):
                line = line[1:]
        lines.append(line.rstrip())
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def declared_functions(header):
    """[(name, doc or None, declaration)] for every oauth2cc_* function, in header order."""
    documented = {}
    for m in COMMENT_THEN_DECL.finditer(header):
        decl = m.group("decl").strip()
        name = FUNCTION_NAME.search(decl)
        if name and not decl.startswith("typedef"):
            documented[name.group(1)] = (comment_text(m.group("doc")), decl)
    functions = []
    # Every declaration at the start of a line, documented or not.
    for m in re.finditer(r"^(?!typedef|#|/|\s)([^;{}]*?\b(oauth2cc_\w+)\s*\([^;]*\);)", header, re.M):
        name = m.group(2)
        doc, _ = documented.get(name, (None, None))
        functions.append((name, doc, m.group(1).strip()))
    return functions


def type_docs(header):
    return {m.group("name"): comment_text(m.group("doc")) for m in TYPE_DOC.finditer(header)}


def split_safety(doc):
    """(description, the text under `# Safety`, or '')."""
    parts = re.split(r"^# Safety\s*$", doc, maxsplit=1, flags=re.M)
    if len(parts) == 2:
        return parts[0].strip(), parts[1].strip()
    return doc.strip(), ""


def first_sentence(text):
    """The brief: the first sentence of the first paragraph, on one line."""
    para = text.split("\n\n")[0].replace("\n", " ")
    m = re.match(r"(.+?)\.(\s+[A-Z(]|\s*$)", para)
    return (m.group(1) if m else para).rstrip(".")


def sentences_with(text, word):
    """The sentences of `text` that contain `word` (case-insensitive), one line each."""
    found = []
    for para in text.split("\n\n"):
        flat = re.sub(r"\s+", " ", para)
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", flat):
            if word.lower() in s.lower():
                found.append(s.strip())
    return found


def return_value(decl, description):
    """(RETURN VALUE text, description with the `Returns ...` sentences taken out)."""
    kept, returns = [], []
    for para in description.split("\n\n"):
        m = re.search(r"(^|(?<=[.)`] ))(Returns |Statuses as for )", para)
        if m and not para.lstrip().startswith(("*", "-")):
            before = para[: m.start(2)].rstrip()
            returns.append(para[m.start(2):].strip())
            if before:
                kept.append(before)
        else:
            kept.append(para)
    ret_type = decl.split("oauth2cc_", 1)[0] if not decl.startswith("enum oauth2cc_status") else "enum oauth2cc_status "
    ret_type = ret_type.strip()
    if decl.startswith("enum oauth2cc_status"):
        text = "\n\n".join(returns) if returns else ""
        text += (
            "\n\n" if text else ""
        ) + (
            "`OAUTH2CC_STATUS_OK` (0) on success; on failure another `oauth2cc_status`, "
            "and the calling thread's `oauth2cc_last_error_message()` says what happened. "
            "Outputs are written only on success. See **oauth2cc**(3) for every status."
        )
    elif ret_type == "void":
        text = "\n\n".join(returns) if returns else "None."
    else:
        text = "\n\n".join(returns) if returns else f"The `{ret_type}` described above."
    return text, "\n\n".join(kept)


def thread_safety(name, decl, doc, types):
    """What the header says about threads for this function and the handle it takes."""
    said = sentences_with(doc, "thread")
    m = HANDLE_PARAM.search(decl.split("(", 1)[1])
    if m:
        is_const, handle = m.group(1), m.group(2)
        # The type's own paragraphs, not its fork() one (a child has no parent's threads).
        type_doc = "\n\n".join(
            p for p in types.get(handle, "").split("\n\n") if not p.startswith("fork()")
        )
        for s in sentences_with(type_doc, "thread"):
            if s not in said:
                said.append(s)
        if handle == "oauth2cc_config":
            said.append(
                "This function only reads the config (it takes a `const` pointer)."
                if is_const
                else "This function modifies the config: no other thread may use it meanwhile."
            )
    else:
        said.append("It takes no handle: any thread may call it at any time.")
    return " ".join(said)


def c_blocks(paths):
    """(file, block) for every ```c block of the given Markdown files, in order."""
    blocks = []
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        for part in text.split("```c\n")[1:]:
            blocks.append((Path(path).name, part.split("```", 1)[0]))
    return blocks


def example_for(name, blocks):
    for source, block in blocks:
        if re.search(r"\b" + re.escape(name) + r"\s*\(", block):
            return source, block
    return None


def tables_as_lists(markdown):
    """Pipe tables as bullet lists: a man page is 80 columns wide, a table of long cells
    would not fit (groff: "table wider than line width"). Each row becomes
    `- **first cell** (header: cell; ...)`."""
    out, rows = [], []

    def flush():
        if len(rows) >= 2:
            headers = rows[0]
            for row in rows[2:]:
                rest = "; ".join(f"{h}: {c}" for h, c in zip(headers[1:], row[1:]) if c)
                out.append(f"- **{row[0]}**" + (f" ({rest})" if rest else ""))
        else:
            out.extend("|" + "|".join(r) + "|" for r in rows)
        rows.clear()

    for line in markdown.split("\n"):
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        if rows:
            flush()
        out.append(line)
    if rows:
        flush()
    return "\n".join(out)


def code_block(text):
    return "```c\n" + text.rstrip("\n") + "\n```"


def page(title, brief, version, sections):
    out = [
        "---",
        f"title: {title.upper()}",
        "section: 3",
        f"header: oauth2cc {version}",
        f"footer: oauth2cc {version}",
        "---",
        "",
        "# NAME",
        "",
        f"{escape_name(title)} - {name_line(brief)}",
    ]
    for heading, body in sections:
        if body:
            out += ["", f"# {heading}", "", body.strip()]
    return "\n".join(out) + "\n"


def name_line(brief):
    """The brief as NAME wants it: plain text, cut at a colon or parenthesis when long."""
    brief = brief.replace("`", "")
    if len(brief) > 70:
        cuts = [i for i in (brief.find(": ", 15), brief.find(" (", 15)) if i > 0]
        if cuts:
            brief = brief[: min(cuts)]
    return brief


def escape_name(name):
    return name.replace("_", "\\_")


def see_also(names):
    return ", ".join(f"**{n}**(3)" for n in names)


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    header_path, overview_path, out_dir, version = argv[1:5]
    header = Path(header_path).read_text(encoding="utf-8")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    types = type_docs(header)
    functions = declared_functions(header)
    exports = {name for name, _, _ in functions}
    blocks = c_blocks(argv[5:])

    undocumented = [name for name, doc, _ in functions if not doc]
    if undocumented:
        sys.stderr.write(
            "man_pages.py: no doc comment in %s for: %s\n" % (header_path, ", ".join(undocumented))
        )
        return 1

    listing = []
    for name, doc, decl in functions:
        description, safety = split_safety(doc)
        brief = first_sentence(description)
        returns, description = return_value(decl, description)
        mentioned = [n for n in dict.fromkeys(MENTION.findall(doc)) if n in exports and n != name]
        # An example in the doc comment itself wins over one from the Markdown pages.
        own = re.search(r"(?:^Example:\s*\n)?```c\n(.*?)```\s*", description, re.S | re.M)
        if own:
            example = ("the header", own.group(1))
            description = (description[: own.start()] + description[own.end():]).strip()
        else:
            example = example_for(name, blocks)
        sections = [
            ("SYNOPSIS", code_block("#include <oauth2cc.h>\n\n" + decl) + "\n\nLink with *-loauth2cc* (`pkg-config --libs oauth2cc`)."),
            ("DESCRIPTION", description),
            ("RETURN VALUE", returns),
            ("ARGUMENTS", safety),
            ("THREAD SAFETY", thread_safety(name, decl, description, types)),
            ("EXAMPLE", (f"From {example[0]}:\n\n" if example[0] != "the header" else "") + code_block(example[1]) if example else ""),
            ("SEE ALSO", see_also(["oauth2cc"] + mentioned)),
        ]
        (out / f"{name}.md").write_text(page(name, brief, version, sections), encoding="utf-8")
        listing.append(f"**{name}**(3)\n:   {brief}.")

    overview = Path(overview_path).read_text(encoding="utf-8")
    # The overview page is the Markdown page with its first heading dropped (NAME replaces it)
    # and its links to other pages shown as text.
    overview = re.sub(r"\A# .*\n", "", overview)
    overview = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) - 1) + " ", overview, flags=re.M)
    overview = re.sub(r"\[([^\]]+)\]\((?!https?:)[^)]*\)", r"\1", overview)
    overview = tables_as_lists(overview)
    overview_sections = [
        ("SYNOPSIS", code_block("#include <oauth2cc.h>") + "\n\nLink with *-loauth2cc* (`pkg-config --libs oauth2cc`)."),
        ("DESCRIPTION", overview),
        ("FUNCTIONS", "\n\n".join(listing)),
        ("SEE ALSO", "The HTML reference (scripts/docs.sh: target/doc-c/index.html) and docs/ of the source tree."),
    ]
    (out / "oauth2cc.md").write_text(
        page("oauth2cc", "OAuth 2.0 client-credentials tokens for C", version, overview_sections),
        encoding="utf-8",
    )
    for name, _, _ in functions:
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
