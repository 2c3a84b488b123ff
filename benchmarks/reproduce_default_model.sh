#!/usr/bin/env bash
# Rebuild the shipped default model from the musicnn wheel and the dev corpus, and reproduce the
# README's quality tables.
#
#   benchmarks/reproduce_default_model.sh [WORK_DIR]      (about 1-2 h on a 2-core laptop CPU,
#                                                           most of it the thesis nets' training)
#
# 1. musicnn's MSD checkpoint -> safetensors (a throwaway TensorFlow virtualenv; TensorFlow is never
#    a MusicSim dependency).  The result must equal resources/pretrained/musicnn byte for byte.
# 2. The corpora: the dev corpus (../shared/corpus/build_dev_corpus.py), 12 extra games and the test
#    pool (benchmarks/build_extra_corpus.py).  Whole games are split: the default's statistics are
#    fitted on hedgewars + supertux + wesnoth (8 albums, 106 tracks); warzone2100 + nexuiz (4 albums,
#    47 tracks) are the held-out games; all 22 albums of games it never saw make the UNSEEN22 set.
#    The fresh pool (23 more games, 189 tracks, --fresh-pool) was added after every choice had been
#    made: an independent check with enough albums of its own (docs/QUALITY.md); the second fresh
#    pool (14 more games, 71 tracks, --fresh-pool-2) likewise, and all 59 unseen albums together
#    make UNSEEN59.
# 3. The default: musicnn-msd-head, statistics only (--epochs 0).  Every head trained further with
#    the thesis's losses scored lower on the 8 selection games (research/musicnn_choose.py,
#    docs/QUALITY.md "A pretrained front end"), so the shipped head is not trained by gradient.
# 4. The baselines: the raw pretrained features (musicnn-msd), the thesis nets (2 epochs each, CPU
#    budget), the previous default (shipped as musicnet-stats-small), classic.
# 5. One `musicsim bench` per set, every model on the same triplets.
# 6. Adapting the default to a library (Tools > Adapt the model to this library): fine-tuned on the
#    held-out games without labels, with neighbour positives and, as the control, without.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-$PWD/work-default-model}
HOME_DIR=$WORK/home
MUSICSIM=${MUSICSIM:-musicsim}
mkdir -p "$WORK"

# 1. weights
python3 "$HERE/convert_musicnn.py" --out "$WORK/pretrained" --fixture "$WORK/musicnn_parity.npz"
cmp "$WORK/pretrained/MSD_musicnn.safetensors" "$HERE/../resources/pretrained/musicnn/MSD_musicnn.safetensors"

# 2. corpora and sets (hard links: no copies)
[ -d "$WORK/corpus" ] || python3 ../shared/corpus/build_dev_corpus.py "$WORK/corpus"
[ -d "$WORK/extra" ] || python3 "$HERE/build_extra_corpus.py" "$WORK/extra"
[ -d "$WORK/testpool" ] || python3 "$HERE/build_extra_corpus.py" --test-pool "$WORK/testpool"
[ -d "$WORK/freshpool" ] || python3 "$HERE/build_extra_corpus.py" --fresh-pool "$WORK/freshpool"
[ -d "$WORK/freshpool2" ] || python3 "$HERE/build_extra_corpus.py" --fresh-pool-2 "$WORK/freshpool2"
link() { mkdir -p "$2"; [ -e "$2/$(basename "$1")" ] || cp -al "$1" "$2/"; }
for g in hedgewars supertux wesnoth; do link "$WORK/corpus/$g" "$WORK/train"; done
for g in warzone2100 nexuiz; do link "$WORK/corpus/$g" "$WORK/heldout"; link "$WORK/corpus/$g" "$WORK/unseen22"; done
for g in "$WORK"/extra/*/ "$WORK"/testpool/*/; do link "${g%/}" "$WORK/unseen22"; done
for g in "$WORK"/unseen22/*/ "$WORK"/freshpool/*/; do link "${g%/}" "$WORK/unseen45"; done
for g in "$WORK"/unseen45/*/ "$WORK"/freshpool2/*/; do link "${g%/}" "$WORK/unseen59"; done

# 3. the default and the raw features: statistics of the training games, no gradient steps
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/train" --arch musicnn-msd-head --epochs 0 --seed 0 \
  --name default-candidate
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/train" --arch musicnn-msd --epochs 0 --seed 0 \
  --name musicnn-msd-candidate

# 4. thesis architectures with the thesis's settings (triplet loss, Adam, lr 1e-5, thesis batch sizes)
for arch in model1 model3 model6 model7-resnet18; do
  $MUSICSIM --home "$HOME_DIR" train --library "$WORK/train" --arch "$arch" --loss triplet --labels folders \
    --epochs 2 --name "thesis-$arch"
done
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/train" --arch contrastive-resnet18 --loss contrastive \
  --self-supervised --epochs 2 --name thesis-contrastive-resnet18

# 5. one benchmark run per set, every model on the same triplets
MODELS=(--model default-candidate --model musicnn-msd-candidate --model musicnet-stats-small
        --model thesis-model1 --model thesis-model3 --model thesis-model6 --model thesis-model7-resnet18
        --model thesis-contrastive-resnet18 --model classic)
$MUSICSIM --home "$HOME_DIR" bench --library "$WORK/heldout" --labels folders "${MODELS[@]}"
$MUSICSIM --home "$HOME_DIR" bench --library "$WORK/unseen22" --labels folders "${MODELS[@]}"
$MUSICSIM --home "$HOME_DIR" bench --library "$WORK/freshpool" --labels folders "${MODELS[@]}"
for set in unseen45 freshpool2 unseen59; do
  $MUSICSIM --home "$HOME_DIR" bench --library "$WORK/$set" --labels folders --model default-candidate \
    --model musicnn-msd-candidate --model musicnet-stats-small --model classic
done

# 6. adaptation to the held-out library (no labels used), and its control
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/heldout" --init-from default-candidate --loss contrastive \
  --self-supervised --neighbours 0.5 --augment light --epochs 10 --lr 3e-4 --batch-size 64 --name default-adapted
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/heldout" --init-from default-candidate --loss contrastive \
  --self-supervised --augment light --epochs 10 --lr 3e-4 --batch-size 64 --name default-ssl
$MUSICSIM --home "$HOME_DIR" bench --library "$WORK/heldout" --labels folders --model default-candidate \
  --model default-adapted --model default-ssl --model musicnet-stats-small
