#!/usr/bin/env bash
# The cartoon round trip on untrimmed videos, every step through the CLI:
# synth --untrimmed → trim (training + validation actors; the two longest stretches between actions of each video as
# class background, so that "no action" does not outnumber each action several times over) → extract → train RGB
# and pose → fuse → timeline on the test actors' videos → evaluate-detection for each stream and fused.
# torch runs single-threaded (OMP_NUM_THREADS=1: the machine is shared); MediaPipe extraction uses 2 workers.
# Usage: bash bench/untrimmed_roundtrip.sh [OUT] (default /tmp/twostream-untrimmed); ~20 min on 2 quiet cores.
set -euo pipefail
OUT=${1:-/tmp/twostream-untrimmed}
CLASSES=${CLASSES:-wave_right,wave_left,wave_red_flag,wave_blue_flag,squat,bend}
VIDEOS=${VIDEOS:-24}
DURATION=${DURATION:-30-45}
POSE_EPOCHS=${POSE_EPOCHS:-25}
RGB_EPOCHS=${RGB_EPOCHS:-40}
BACKGROUND_PER_VIDEO=${BACKGROUND_PER_VIDEO:-2}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
TRAIN=(--clip-len 8 --lr 0.003 --no-flip --val-fraction 0.2 --seed 0 --workers 1)
step() { echo; echo "== $(date -u +%H:%M:%S) twostream $*"; /usr/bin/time -f "   (%e s)" twostream "$@"; }

# A re-run keeps what is done: the videos, the clips, the keypoint caches and a finished run.
[ -f "$OUT/untrimmed/annotations.json" ] ||
    step synth "$OUT/untrimmed" --untrimmed "$VIDEOS" --duration "$DURATION" --classes "$CLASSES" --seed 0
[ -f "$OUT/clips/trim-report.json" ] ||
    step trim "$OUT/untrimmed/annotations.json" "$OUT/untrimmed/videos" "$OUT/clips" --format avi \
        --subset training,validation --background background --background-per-video "$BACKGROUND_PER_VIDEO"
mapfile -t TEST < <(python - "$OUT/untrimmed" <<'PY'
import json, sys
root = sys.argv[1]
db = json.load(open(f"{root}/annotations.json"))["database"]
print("\n".join(f"{root}/videos/{vid}.avi" for vid, e in db.items() if e["subset"] == "testing"))
PY
)
# The test videos' keypoints (for timeline) are extracted in the background, one process per video.
for video in "${TEST[@]}"; do twostream extract "$video" --workers 1 > "$video.extract.log" 2>&1 & done
# The RGB stream needs no keypoints: it trains while MediaPipe extracts them.
[ -f "$OUT/runs/rgb/best.pt" ] || { step train "$OUT/clips" --model cnn_lstm --no-pretrained --epochs "$RGB_EPOCHS" \
    --out "$OUT/runs/rgb" --overwrite "${TRAIN[@]}" > "$OUT/train-rgb.log" 2>&1 & }
step extract "$OUT/clips" --workers 2
[ -f "$OUT/runs/pose/best.pt" ] ||
    step train "$OUT/clips" --model pose_gru --epochs "$POSE_EPOCHS" --out "$OUT/runs/pose" --overwrite "${TRAIN[@]}"
wait
tail -n 3 "$OUT/train-rgb.log" 2>/dev/null || true
step fuse "$OUT/runs/rgb" "$OUT/runs/pose" --out "$OUT/runs/fused"
step timeline "$OUT/runs/fused" "${TEST[@]}" --out "$OUT/timeline" --gt "$OUT/untrimmed/annotations.json"
for name in segments.rgb segments.pose segments; do
    step evaluate-detection "$OUT/untrimmed/annotations.json" "$OUT/timeline/$name.json" --subset testing \
        --out "$OUT/timeline/$name.metrics.json"
done
