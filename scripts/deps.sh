# Shared by scripts/run.sh and scripts/test.sh: installs, with apt-get, what building Bulwark needs and the
# machine lacks (a C and C++ compiler and cmake for QuickFIX). Extra package names can be passed.
install_build_deps() {
  local need_apt=("$@")
  command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
  command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
  command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
  command -v make >/dev/null 2>&1 || need_apt+=(make)
  if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}"
    fi
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install the Rust toolchain (https://rustup.rs) and re-run" >&2
    exit 1
  fi
}
