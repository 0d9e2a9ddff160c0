#!/usr/bin/env bash
# The README walk-through runs end to end and says what it should.
source "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
expect 0 bash "$top/scripts/walkthrough.sh" "$T" "$W/demo"
has 'verified: 1 streams, 3 txns, 2 rows; no faults'
has 'scope gangzha/qinzao/tangzha is outside this node'
has 'FAULT row cases/fq-2016-002'
has 'cases/fq-2016-001 update \{status,notes\}'
has '宅基地边界纠纷'
hasnt 'PRIVATE KEY'
finish
