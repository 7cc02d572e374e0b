# Shared by scripts/install.sh and scripts/package-windows.sh (sourced, not run): the release
# build of the C libraries, the version, and the templates (oauth2cc.pc.in, cmake/*.in).
# The sourcing script defines die() and sets `script` to its own name for messages.

# read_version: sets version (X.Y.Z from Cargo.toml), major, minor and soversion (0.MINOR
# while the version is 0.x, MAJOR from 1.0 on: docs/c-api.md, "ABI policy").
read_version() {
  local pkgid rest
  pkgid=$("$cargo" pkgid)
  version=${pkgid##*[#@]}
  case "$version" in
    [0-9]*.[0-9]*.[0-9]*) ;;
    *) die "cannot read the version from '$pkgid'" ;;
  esac
  major=${version%%.*}
  rest=${version#*.}
  minor=${rest%%.*}
  if [ "$major" = 0 ]; then soversion=0.$minor; else soversion=$major; fi
}

# build_libraries TARGET [RUSTC ARG]...: builds the shared and the static library for TARGET
# in release mode and sets native_static_libs (the system libraries a static link needs, as
# rustc prints them) and artifact (cargo's JSON line about the library; see built_file).
#
# The C libraries are the `capi/` package (cdylib and staticlib only, so the release profile's
# LTO applies; capi/Cargo.toml), built for an explicit --target: everything goes to
# target/<triple>/release, so this build and a plain `cargo build --release` never make each
# other recompile. The extra rustc flag prints the system libraries a static link needs; when
# nothing changed cargo replays it from its cache.
build_libraries() {
  local target=$1 log json
  shift
  echo "$script: building with: $cargo rustc --release -p oauth2cc-capi --lib --target $target" \
    "-- --print native-static-libs $*" >&2
  log=$(mktemp)
  if ! json=$("$cargo" rustc --release -p oauth2cc-capi --lib --target "$target" \
    --message-format=json-render-diagnostics \
    -- --print native-static-libs "$@" 2>"$log"); then
    cat "$log" >&2
    rm -f "$log"
    die "the build failed"
  fi
  grep -v '^note: \|^$' "$log" >&2 || true
  native_static_libs=$(sed -n 's/^note: native-static-libs: //p' "$log" | tail -n 1)
  rm -f "$log"
  [ -n "$native_static_libs" ] || die "rustc printed no native-static-libs line"
  artifact=$(printf '%s\n' "$json" | grep '"reason":"compiler-artifact"' |
    grep '"package_id":"[^"]*#oauth2cc-capi@' | grep '"filenames"' | tail -n 1) || true
  [ -n "$artifact" ] || die "cargo reported no oauth2cc library artifact"
}

# build_cli TARGET TARGET_DIR: builds the oauth2cc tool (cli/) for TARGET in release mode in
# TARGET_DIR and prints the executable's path.
build_cli() {
  local target=$1 dir=$2 json log
  echo "$script: building with: $cargo build --release -p oauth2cc-cli --bin oauth2cc" \
    "--target $1 --target-dir $dir" >&2
  log=$(mktemp)
  if ! json=$("$cargo" build --release -p oauth2cc-cli --bin oauth2cc --target "$target" \
    --target-dir "$dir" --message-format=json-render-diagnostics 2>"$log"); then
    cat "$log" >&2
    rm -f "$log"
    die "the build of the tool failed"
  fi
  rm -f "$log"
  printf '%s\n' "$json" | grep '"reason":"compiler-artifact"' | grep '"executable":"' |
    grep -o '"executable":"[^"]*"' | sed 's/^"executable":"//; s/"$//' | tail -n 1
}

# built_file SUFFIX: the path of the file build_libraries built whose name ends with SUFFIX.
built_file() {
  printf '%s' "$artifact" | grep -o '"filenames":\[[^]]*\]' | grep -o '"[^"]*'"$1"'"' |
    tr -d '"' | head -n 1
}

# cmake_to_prefix LIBDIR: the way up from PREFIX/LIBDIR/cmake/oauth2cc to PREFIX.
cmake_to_prefix() {
  local up="../.." part parts
  IFS=/ read -r -a parts <<<"$1"
  for part in "${parts[@]}"; do [ -z "$part" ] || up="$up/.."; done
  printf '%s' "$up"
}

# substitute TEMPLATE: prints TEMPLATE with its @NAME@ placeholders replaced by the variables
# prefix libdir includedir bindir version soversion major real_name soname libs
# native_static_libs cmake_static_libs up.
substitute() {
  sed -e "s|@PREFIX@|$prefix|g" \
    -e "s|@LIBDIR@|$libdir|g" \
    -e "s|@INCLUDEDIR@|$includedir|g" \
    -e "s|@BINDIR@|${bindir:-bin}|g" \
    -e "s|@VERSION@|$version|g" \
    -e "s|@SOVERSION@|$soversion|g" \
    -e "s|@VERSION_MAJOR@|$major|g" \
    -e "s|@REAL_NAME@|$real_name|g" \
    -e "s|@SONAME@|$soname|g" \
    -e "s|@LIBS@|$libs|g" \
    -e "s|@LIBS_PRIVATE@|$native_static_libs|g" \
    -e "s|@CMAKE_STATIC_LIBS@|$cmake_static_libs|g" \
    -e "s|@CMAKE_TO_PREFIX@|$up|g" \
    "$1"
}
