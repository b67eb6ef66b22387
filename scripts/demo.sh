#!/bin/sh
# Makes the demo files of the welcome page (www/index.html) in DIR (default www/demo), when missing:
#   large.bin   1 GiB of zeros, sparse: a big download that takes no disk space
#   video.webm  30 s of ffmpeg's test pattern (a counter of seconds), a key frame every second,
#               so that seeking shows where the Range request landed; skipped without ffmpeg
# They are generated, not committed (.gitignore), and made once: `make run` calls this each time.
set -eu

dir=${1:-www/demo}
mkdir -p "$dir"

if [ ! -e "$dir/large.bin" ]; then
    truncate -s 1G "$dir/large.bin.tmp"
    mv "$dir/large.bin.tmp" "$dir/large.bin"
fi

if [ ! -e "$dir/video.webm" ]; then
    if command -v ffmpeg >/dev/null 2>&1; then
        echo "demo: making $dir/video.webm with ffmpeg (once, a few seconds)" >&2
        ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc=duration=30:size=480x270:rate=25" \
            -c:v libvpx -deadline realtime -cpu-used 8 -b:v 1M -g 25 -an -f webm -y "$dir/video.webm.tmp"
        mv "$dir/video.webm.tmp" "$dir/video.webm"
    else
        echo "demo: no ffmpeg, so no $dir/video.webm (scripts/deps.sh installs ffmpeg)" >&2
    fi
fi
