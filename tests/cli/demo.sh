#!/usr/bin/env bash
# The district demo (README's main job) runs end to end and shows what it
# promises: visibility, a settled conflict, a bundle, a revocation, the
# audit with equal digests.
source "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
expect 0 bash "$top/scripts/district-demo.sh" "$T" "$W/demo"
has '^8 nodes initialised under'
hasnt 'still waiting'
has '^feiqiao +6$'
has '^xinqiao +6$'
has '^nanhu +5$'
has '^district +15$'
has '^auditor +15$'
has '^1 open conflict$'
has 'settled; the settlement travels'
has '^feiqiao-1\|resolved$'
has 'read 4 txns: applied 4'
has 'refused our certificate: it was revoked'
has 'verified: [0-9]+ streams, [0-9]+ txns, [0-9]+ rows; no faults' # receipts add txns as links come and go
d=$(grep -A2 '^digests of the whole district' "$W/out" | awk 'NR==2{print $2} NR==3{print $2}' | sort -u | wc -l)
eq "$d" 1 "district and auditor digests equal"
f=$(grep -A3 "^digest of Feiqiao" "$W/out" | awk 'NR>1{print $2}' | sort -u | wc -l)
eq "$f" 1 "feiqiao digests equal at village, street and district"
hasnt 'PRIVATE KEY'
finish
