#!/usr/bin/env bash
# Retrain the shipped default model from the dev corpus and reproduce the README's held-out table.
#
#   benchmarks/reproduce_default_model.sh [WORK_DIR]      (about 1-2 h on a 2-core laptop CPU)
#
# Splits whole games: train on hedgewars + supertux + wesnoth (8 albums, 106 tracks), hold out
# warzone2100 + nexuiz (4 albums, 47 tracks) — the benchmark is on music the models never heard.
set -euo pipefail
WORK=${1:-$PWD/work-default-model}
HOME_DIR=$WORK/home
MUSICSIM=${MUSICSIM:-musicsim}
mkdir -p "$WORK"
[ -d "$WORK/corpus" ] || python3 ../shared/corpus/build_dev_corpus.py "$WORK/corpus"
mkdir -p "$WORK/train" "$WORK/heldout"
for g in hedgewars supertux wesnoth; do [ -e "$WORK/train/$g" ] || cp -al "$WORK/corpus/$g" "$WORK/train/$g"; done
for g in warzone2100 nexuiz; do [ -e "$WORK/heldout/$g" ] || cp -al "$WORK/corpus/$g" "$WORK/heldout/$g"; done

# The default model: our hybrid CNN beside fixed timbre-covariance, envelope and modulation
# statistics (musicnet-stats-small), self-supervised contrastive (excerpts of a song are positives).
# 5 epochs: album scores on the training games (whose labels training never sees) peaked there in a
# 20-epoch run of the CNN alone and fell afterwards, as the model learnt to tell songs of one album apart.
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/train" --arch musicnet-stats-small --loss contrastive \
  --self-supervised --augment light --epochs 5 --lr 1e-3 --batch-size 64 --seed 0 --name default-candidate
# The shipped default embeds a song from 8 excerpts of 6 s (its weights saw 3-s crops): longer
# excerpts scored better on every held-out set (docs/QUALITY.md). The model key includes the
# features, so this edit gives the candidate embeddings of its own.
python3 - "$HOME_DIR/models/default-candidate/config.json" <<'PY'
import json, sys
path = sys.argv[1]
cfg = json.load(open(path))
cfg["features"]["excerpt_seconds"] = 6.0
json.dump(cfg, open(path, "w"), indent=2, sort_keys=True)
PY

# Thesis architectures with the thesis's settings (triplet loss, Adam, lr 1e-5, thesis batch sizes),
# album labels from the folders; a few epochs each (CPU budget).
for arch in model1 model3 model6 model7-resnet18; do
  $MUSICSIM --home "$HOME_DIR" train --library "$WORK/train" --arch "$arch" --loss triplet --labels folders \
    --epochs 2 --name "thesis-$arch"
done
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/train" --arch contrastive-resnet18 --loss contrastive \
  --self-supervised --epochs 2 --name thesis-contrastive-resnet18

# One benchmark run over the held-out games, every model on the same triplets.
$MUSICSIM --home "$HOME_DIR" bench --library "$WORK/heldout" --labels folders --model default-candidate \
  --model thesis-model1 --model thesis-model3 --model thesis-model6 --model thesis-model7-resnet18 \
  --model thesis-contrastive-resnet18 --model classic

# In-app training helps: self-supervised fine-tuning on the held-out library (no labels used), with
# neighbour positives (a song's positive is sometimes its nearest neighbour) and, as the control,
# with song-level positives only; then one benchmark run over all three.
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/heldout" --init-from default-candidate --loss contrastive \
  --self-supervised --neighbours 0.5 --augment light --epochs 10 --lr 3e-4 --batch-size 64 --name default-adapted-heldout
$MUSICSIM --home "$HOME_DIR" train --library "$WORK/heldout" --init-from default-candidate --loss contrastive \
  --self-supervised --augment light --epochs 10 --lr 3e-4 --batch-size 64 --name default-ssl-heldout
$MUSICSIM --home "$HOME_DIR" bench --library "$WORK/heldout" --labels folders --model default-candidate \
  --model default-adapted-heldout --model default-ssl-heldout --model classic
