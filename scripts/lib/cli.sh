# Shared by the scripts in scripts/ (sourced, not run): messages and the usual
# "no argument, or --help" command line. The sourcing script sets `script` to its name first.

# die MESSAGE...: the message on stderr, prefixed with the script's name; exit 1.
die() {
  echo "$script: $*" >&2
  exit 1
}

# no_arguments "$@": --help prints the script's header comment (from line 2 to the first
# empty line); any other argument is an error.
no_arguments() {
  case "${1:-}" in
    "") ;;
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
}
