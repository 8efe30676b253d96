#!/usr/bin/env bash
# Makes sure the Debian packages the app (or the test suite) needs are installed.
#
#   scripts/system-deps.sh run    what `make run` needs: PortAudio, Qt's xcb libraries, espeak-ng
#   scripts/system-deps.sh test   what `make test` needs on top: PulseAudio, Xvfb, sox, the validators
#
# Installed packages are detected with dpkg, so a second run costs a few milliseconds. As root with
# apt available the missing ones are installed; otherwise the script names them and fails, because
# a half-working install (sounddevice without PortAudio, Qt without its xcb plugin libraries) only
# moves the error somewhere harder to read.
set -euo pipefail

run_packages=(
    libportaudio2            # sounddevice's wheel does not bundle PortAudio
    libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0
    libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0
    libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-cursor0   # Qt's xcb platform plugin
    espeak-ng                # the offline echo server speaks typed text with it
    fonts-dejavu-core
)
test_packages=(
    pulseaudio pulseaudio-utils libasound2-plugins   # virtual devices: null sinks for real audio tests
    xvfb                     # screenshots of the real window
    sox                      # audio fixtures and measurements
    appstream                # validates the AppStream metainfo
    desktop-file-utils       # validates the desktop entry
)

mode=${1:-run}
case "$mode" in
    run) wanted=("${run_packages[@]}") ;;
    test) wanted=("${run_packages[@]}" "${test_packages[@]}") ;;
    *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system-deps: not a Debian-based system; install the equivalents of: ${wanted[*]}" >&2
    exit 0
fi

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: these Debian packages are missing: ${missing[*]}" >&2
    echo "system-deps: install them with:  sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
