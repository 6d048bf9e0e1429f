#!/usr/bin/env bash
# Wait for the ztp-lab Indexed Job (docker/k8s/ztp-lab-job.yaml) to finish, every shard, then copy
# the JUnit files and artifacts out of its results volume into ./out (or $1).
#
#   kubectl apply -f docker/k8s/ztp-lab-job.yaml && docker/k8s/collect.sh [OUTDIR] [TIMEOUT_S]
#
# Exit status: 0 every shard passed, 1 some shard failed (its results are collected too), 2 the job
# did not finish in time or the results could not be copied.
set -euo pipefail
out=${1:-out} timeout=${2:-3900} job=ztp-lab claim=ztp-lab-out pod=ztp-lab-collect

# Complete = every index succeeded; Failed = some index failed (with backoffLimitPerIndex it is set
# once every index has finished) or the deadline passed. Poll for either, bounded.
state=
for ((t = 0; t < timeout; t += 5)); do
  state=$(kubectl get job "$job" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
  case " $state " in *" Complete "* | *" Failed "*) break ;; esac
  sleep 5
done
echo "job $job: ${state:-still running after ${timeout}s}"
kubectl get job "$job" -o jsonpath='{"completed shards (index): "}{.status.completedIndexes}{"; failed: "}{.status.failedIndexes}{"\n"}'
case " $state " in *" Complete "* | *" Failed "*) ;; *) exit 2 ;; esac

# A pod that mounts the same claim, to copy from.
kubectl delete pod "$pod" --ignore-not-found --wait=true >/dev/null
kubectl run "$pod" --image=busybox:1.36 --restart=Never --overrides='{"spec":{
  "volumes":[{"name":"out","persistentVolumeClaim":{"claimName":"'"$claim"'"}}],
  "containers":[{"name":"c","image":"busybox:1.36","command":["sleep","900"],
                 "volumeMounts":[{"name":"out","mountPath":"/out"}]}]}}' >/dev/null
trap 'kubectl delete pod "$pod" --ignore-not-found --wait=false >/dev/null' EXIT
kubectl wait "pod/$pod" --for=condition=Ready --timeout=300s >/dev/null || exit 2
mkdir -p "$out"
kubectl cp "$pod:/out" "$out" || exit 2
ls "$out"/junit-*.xml # one per shard: hand them all to the CI's JUnit report step
case " $state " in *" Complete "*) exit 0 ;; *) exit 1 ;; esac
