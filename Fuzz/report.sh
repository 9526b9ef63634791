#!/bin/sh
# Totals per harness over every run recorded in WORK/campaign.tsv (written by Fuzz/run.sh).
# Usage: Fuzz/report.sh WORK
awk -F'\t' '
    { runs[$2]++; secs[$2] += $3; execs[$2] += $4; crash[$2] += $5; tmo[$2] += $6; oom[$2] += $7; san[$2] += $8 }
    END {
        printf "| %-15s | %4s | %8s | %12s | %7s | %8s | %4s | %9s |\n", "harness", "runs", "seconds", "executions", "crashes", "timeouts", "ooms", "sanitizer"
        printf "|-----------------|------|----------|--------------|---------|----------|------|-----------|\n"
        for (h in runs) printf "| %-15s | %4d | %8d | %12d | %7d | %8d | %4d | %9d |\n", h, runs[h], secs[h], execs[h], crash[h], tmo[h], oom[h], san[h] | "sort"
    }' "$1/campaign.tsv"
