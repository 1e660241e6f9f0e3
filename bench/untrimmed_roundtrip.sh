#!/usr/bin/env bash
# The cartoon round trip on untrimmed videos, every step through the CLI:
# synth --untrimmed → trim (training + validation actors; the two longest stretches between actions of each video as
# class background, so that "no action" does not outnumber each action several times over) → extract → train RGB
# and pose → fuse → timeline on the validation actors' videos at each of MIN_SCORES, the best (fused mAP@0.5)
# kept → timeline on the test actors' videos → evaluate-detection for each stream and fused; a table at the end.
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
MIN_SCORES=${MIN_SCORES:-0.2 0.3 0.4 0.5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
TRAIN=(--clip-len 8 --lr 0.003 --no-flip --val-fraction 0.2 --seed 0 --workers 1)
step() { echo; echo "== $(date -u +%H:%M:%S) twostream $*"; /usr/bin/time -f "   (%e s)" twostream "$@"; }

# A re-run keeps what is done: the videos, the clips, the keypoint caches and a finished run.
[ -f "$OUT/untrimmed/annotations.json" ] ||
    step synth "$OUT/untrimmed" --untrimmed "$VIDEOS" --duration "$DURATION" --classes "$CLASSES" --seed 0
[ -f "$OUT/clips/trim-report.json" ] ||
    step trim "$OUT/untrimmed/annotations.json" "$OUT/untrimmed/videos" "$OUT/clips" --format avi \
        --subset training,validation --background background --background-per-video "$BACKGROUND_PER_VIDEO"
videos_of() {  # the videos of one subset, one path a line
    python - "$OUT/untrimmed" "$1" <<'PY'
import json, sys
root, subset = sys.argv[1], sys.argv[2]
db = json.load(open(f"{root}/annotations.json"))["database"]
print("\n".join(f"{root}/videos/{vid}.avi" for vid, e in db.items() if e["subset"] == subset))
PY
}
mapfile -t TEST < <(videos_of testing)
mapfile -t VAL < <(videos_of validation)
# The test and validation videos' keypoints (for timeline) are extracted in the background, one process per video.
for video in "${TEST[@]}" "${VAL[@]}"; do twostream extract "$video" --workers 1 > "$video.extract.log" 2>&1 & done
# The RGB stream needs no keypoints: it trains while MediaPipe extracts them.
[ -f "$OUT/runs/rgb/best.pt" ] || { step train "$OUT/clips" --model cnn_lstm --no-pretrained --epochs "$RGB_EPOCHS" \
    --out "$OUT/runs/rgb" --overwrite "${TRAIN[@]}" > "$OUT/train-rgb.log" 2>&1 & }
step extract "$OUT/clips" --workers 2
[ -f "$OUT/runs/pose/best.pt" ] ||
    step train "$OUT/clips" --model pose_gru --epochs "$POSE_EPOCHS" --out "$OUT/runs/pose" --overwrite "${TRAIN[@]}"
wait
tail -n 3 "$OUT/train-rgb.log" 2>/dev/null || true
[ -f "$OUT/runs/fused/fusion.json" ] || step fuse "$OUT/runs/rgb" "$OUT/runs/pose" --out "$OUT/runs/fused"
# --min-score is chosen on the validation actors' videos (the fused run's mAP@0.5), then used on the test videos.
for score in $MIN_SCORES; do
    rm -rf "$OUT/validation/$score"
    step timeline "$OUT/runs/fused" "${VAL[@]}" --out "$OUT/validation/$score" --min-score "$score" > /dev/null
    step evaluate-detection "$OUT/untrimmed/annotations.json" "$OUT/validation/$score/segments.json" \
        --subset validation --out "$OUT/validation/$score/segments.metrics.json" > /dev/null
done
BEST=$(python - "$OUT/validation" $MIN_SCORES <<'PY'
import json, sys
maps = {s: json.load(open(f"{sys.argv[1]}/{s}/segments.metrics.json"))["map"]["0.50"] for s in sys.argv[2:]}
print("validation mAP@0.5 (fused) per --min-score:", maps, file=sys.stderr)
print(max(maps, key=maps.get))
PY
)
echo "--min-score $BEST (best on validation)"
rm -rf "$OUT/timeline"
step timeline "$OUT/runs/fused" "${TEST[@]}" --out "$OUT/timeline" --gt "$OUT/untrimmed/annotations.json" \
    --min-score "$BEST"
for name in segments.rgb segments.pose segments; do
    step evaluate-detection "$OUT/untrimmed/annotations.json" "$OUT/timeline/$name.json" --subset testing \
        --out "$OUT/timeline/$name.metrics.json" > /dev/null
done
python - "$OUT/timeline" "$BEST" <<'PY'
import json, sys
print(f"\n| scores on the test videos (--min-score {sys.argv[2]}) | mAP@0.5 | mAP@0.75 | average mAP (0.5:0.95) |")
print("|---|---|---|---|")
for name, label in (("segments.rgb", "rgb"), ("segments.pose", "pose"), ("segments", "fused")):
    m = json.load(open(f"{sys.argv[1]}/{name}.metrics.json"))
    print(f"| {label} | {m['map']['0.50']:.3f} | {m['map']['0.75']:.3f} | {m['average_map']:.3f} |")
PY
