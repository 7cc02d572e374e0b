# Doxygen's input filter for the Markdown pages (Doxyfile FILTER_PATTERNS): links Doxygen
# 1.9 cannot resolve become their text. Same-page anchors use GitHub's heading ids, which
# Doxygen names differently; CHANGELOG.md and BENCHMARKS.md are not part of the reference.
s/\[([^]]*)\]\(#[^)]*\)/\1/g
s/\[([^]]*)\]\((CHANGELOG|BENCHMARKS)\.md\)/\1/g
