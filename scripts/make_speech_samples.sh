#!/usr/bin/env bash
# Rebuild the speech clips of the built-in sample data (runner/sample_data/audio/clipN.wav): clip N is
# espeak-ng reading the "text" of row N of samples.jsonl, resampled to 16 kHz 16-bit mono with sox.
# Needs Debian's espeak-ng and sox (apt-get install -y espeak-ng sox). The voice and speed were chosen
# by measurement: with the real Whisper tiny.en (model=whisper_tiny_en) this voice gives WER 0.09 on the
# six clips, en-us 0.28 (benchmarks/asr.py prints the current figure).
set -euo pipefail
cd "$(dirname "$0")/../runner/sample_data"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in open("samples.jsonl")]' > "$tmp/texts"
i=0
while IFS= read -r text; do
  espeak-ng -v en-gb-x-rp -s 150 -w "$tmp/raw.wav" "$text"
  sox "$tmp/raw.wav" -r 16000 -b 16 -c 1 "audio/clip$i.wav"
  i=$((i + 1))
done < "$tmp/texts"
