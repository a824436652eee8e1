#!/usr/bin/env bash
# `trainer train` on a folder that already ran (issue 11, findings 2 and 3):
#  - a finished folder given another config (lr 0.001 -> 0.002) is refused, exit 2, listing
#    the key OLD -> NEW; config.yaml, result.csv and train_log.csv stay byte for byte as they were
#  - an interrupted folder (last.safetensors, no result) given another config: refused too
#  - the same config, or one differing only in a key that never changes the numbers
#    (train.threads): "already finished", exit 0, nothing rewritten
#  - --restart keeps the old run as DIR.old-1 and trains the new config from the first epoch
#  - two trainers on one --out: the second is refused (exit 2) naming the first's PID and host;
#    the first finishes with every epoch logged once
#  - a trainer killed with -9 leaves a lock the next run takes over (its PID is gone), and it
#    resumes; a holder line of another host with a fresh heartbeat is refused, a stale one taken over
#  - a trial file without data.root: exit 2 naming the file and the key, no result.csv
set -uo pipefail
: "${TRAINER:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_train_folder.XXXXXX)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
T=$TRAINER
"$T" demo-data data --train 10 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
write_cfg() {  # write_cfg FILE LR EPOCHS VIEWS [THREADS]
    cat > "$1" <<YAML
data: {root: data, image_size: 32}
model: {weights: random:1, head: {hidden: 16}}
train: {epochs: $3, batch_size: 16, lr: $2, threads: ${5:-0}}
feature_cache: {views: $4}
YAML
}
snap() { md5sum "$1"/config.yaml "$1"/result.csv "$1"/train_log.csv 2>/dev/null; }
epochs_once() { [ "$(tail -n +2 "$1/train_log.csv" | cut -d, -f1 | tr -d '\r' | tr '\n' ' ')" = "$(seq -s ' ' 0 $(($2 - 1))) " ]; }

# --- finding 2: a finished folder and another config
write_cfg a.yaml 0.001 3 1
"$T" train a.yaml --out A --threads 1 > /dev/null 2>&1
check_eval "first run done" "grep -q ',done,' A/result.csv"
snap A > a.md5
write_cfg b.yaml 0.002 3 1
"$T" train b.yaml --out A --threads 1 > b.out 2>&1; rc=$?
cat b.out
check_eval "another config on a finished folder: exit 2" "[ $rc -eq 2 ]"
check_eval "names the key OLD -> NEW" "grep -q 'train.lr 0.001 -> 0.002' b.out"
check_eval "config.yaml, result.csv, train_log.csv unchanged" "diff a.md5 <(snap A)"
"$T" train a.yaml --out A --threads 1 > same.out 2>&1; rc=$?
check_eval "the same config: already finished, exit 0" "[ $rc -eq 0 ] && grep -q 'already finished' same.out && diff a.md5 <(snap A)"
write_cfg a1.yaml 0.001 3 1 1
"$T" train a1.yaml --out A --threads 1 > threads.out 2>&1; rc=$?
check_eval "train.threads alone (never changes the numbers): not refused, the finished folder left as it is" \
    "[ $rc -eq 0 ] && grep -q 'already finished' threads.out && diff a.md5 <(snap A)"
"$T" train b.yaml --out A --threads 1 --restart > restart.out 2>&1; rc=$?
check_eval "--restart: exit 0, the old run kept as A.old-1" "[ $rc -eq 0 ] && grep -q 'kept as A.old-1' restart.out && [ -s A.old-1/result.csv ]"
check_eval "--restart: the old folder as it was" "diff <(sed 's#A/#X/#g' a.md5) <(snap A.old-1 | sed 's#A.old-1/#X/#g')"
check_eval "--restart: the new config trained from the first epoch" "grep -q 'lr: 0.002' A/config.yaml && epochs_once A 3"

# --- an interrupted folder and another config
cp -r A.old-1 I && rm I/result.csv
"$T" train b.yaml --out I --threads 1 > i.out 2>&1; rc=$?
check_eval "another config on an interrupted folder: exit 2, nothing written" "[ $rc -eq 2 ] && [ ! -e I/result.csv ] && grep -q 'lr: 0.001' I/config.yaml"

# --- finding 3: two trainers on one folder (views 0: every epoch runs the backbone, slow enough)
write_cfg slow.yaml 0.001 8 0
"$T" train slow.yaml --out S --threads 1 > s1.out 2>&1 &
first=$!
for _ in $(seq 300); do [ -s S/.lock ] && break; sleep 0.1; done
"$T" train slow.yaml --out S --threads 1 > s2.out 2>&1; rc=$?
cat s2.out
check_eval "second trainer on the folder: exit 2" "[ $rc -eq 2 ]"
check_eval "it names the first's PID and host" "grep -q \"PID $first on host $(hostname)\" s2.out"
wait $first; rc=$?
check_eval "the first finishes: exit 0, each epoch logged once" "[ $rc -eq 0 ] && epochs_once S 8 && grep -q ',done,' S/result.csv"

# --- a trainer killed with -9: its lock is taken over, the trial resumes
"$T" train slow.yaml --out K --threads 1 > k1.out 2>&1 &
victim=$!
for _ in $(seq 600); do n=$(grep -c . K/train_log.csv 2>/dev/null); [ "${n:-0}" -ge 3 ] && break; sleep 0.1; done
kill -9 $victim; wait $victim 2>/dev/null
check_eval "the killed trainer's line is left in its lock" "grep -q \"^$victim \" K/.lock"
"$T" train slow.yaml --out K --threads 1 > k2.out 2>&1; rc=$?
cat k2.out | head -3
check_eval "the rerun takes the stale lock over, saying so" "[ $rc -eq 0 ] && grep -q \"took over the lock of trainer train, PID $victim\" k2.out"
check_eval "and resumes: every epoch once" "epochs_once K 8"

# --- a holder on another host (a shared folder): fresh refuses, stale is taken over
rm K/result.csv
echo "4242 node-elsewhere $(date +%s) trainer train" > K/.lock
"$T" train slow.yaml --out K --threads 1 > f1.out 2>&1; rc=$?
check_eval "another host's fresh heartbeat: refused naming it" "[ $rc -eq 2 ] && grep -q 'PID 4242 on host node-elsewhere' f1.out"
touch -d '-10 minutes' K/.lock
"$T" train slow.yaml --out K --threads 1 > f2.out 2>&1; rc=$?
check_eval "its stale heartbeat: taken over" "[ $rc -eq 0 ] && grep -q 'node-elsewhere' f2.out && grep -q 'taken as gone' f2.out"

# --- a trial file without data.root
printf 'model: {weights: random:1}\ntrain: {epochs: 1}\n' > noroot.yaml
"$T" train noroot.yaml --out N > n.out 2>&1; rc=$?
check_eval "no data.root: exit 2 naming the file and the key, no result.csv" \
    "[ $rc -eq 2 ] && grep -q \"noroot.yaml: key 'data.root' is required\" n.out && [ ! -e N/result.csv ]"

checks_end
