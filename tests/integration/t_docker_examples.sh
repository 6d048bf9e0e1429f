#!/usr/bin/env bash
# docker/'s sharding examples, checked without docker, Kubernetes or the network:
#
#   docker/k8s/ztp-lab-job.yaml   Indexed Job: completionMode Indexed, completions N, 1 <= parallelism <= N,
#                                 privileged, restartPolicy Never, results on a volume the collector reads
#   docker/ci/github-actions.yml  job matrix shard 1..N, fail-fast off, `docker run --privileged`,
#                                 upload-artifact always, the report step's glob finds every JUnit file
#   docker/ci/gitlab-ci.yml       parallel: N, privileged runner, JUnit reports always
#   docker/compose.yaml, docker/Dockerfile   privileged, /out, the entry point the examples call
#
# For each example and each shard the command the CI or Kubernetes would run is evaluated by a shell
# with that shard's variables (JOB_COMPLETION_INDEX, ${{ matrix.shard }}, CI_NODE_INDEX/TOTAL), with
# `lab` replaced by a stub that records its arguments and then runs the real build/bin/lab on a
# directory of broken scenario files (so lab parses the whole command line and stops at the first
# scenario of its shard, before creating anything): --shard must be I/N for I = 1..N, every shard's
# JUnit file distinct and collected, and the real lab must accept the command line.
#
# Then `lab run --all --shard I/N` for N = 1..5 against the real scenarios: every scenario in exactly
# one shard, the same answer twice. Needs python3 with the yaml module (Debian: python3-yaml).
# No root, no namespaces.
. "$(dirname "$0")/lib.sh"

PY=
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import yaml' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || zl_fail "python3 with the yaml module is needed (Debian package python3-yaml; scripts/deps.sh installs it)"
[ -x "$ZTP_BIN/lab" ] || zl_fail "$ZTP_BIN/lab is not built"

export ZL_TMP ZTP_BIN ZTP_SRC ZL_TEST
"$PY" - <<'PYEOF' || zl_fail "docker/ examples (see above)"
import fnmatch, json, os, re, shlex, subprocess, sys
import yaml

tmp, bin_dir, src, test = os.environ["ZL_TMP"], os.environ["ZTP_BIN"], os.environ["ZTP_SRC"], os.environ["ZL_TEST"]
lab = os.path.join(bin_dir, "lab")
docker_dir = os.path.join(src, "docker")
failures = []


def ok(msg):
    print(f"[{test}] ok: {msg}", file=sys.stderr)


def check(cond, msg):
    if cond:
        ok(msg)
    else:
        print(f"[{test}] FAIL: {msg}", file=sys.stderr)
        failures.append(msg)
    return cond


def load_all(rel):
    with open(os.path.join(docker_dir, rel)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


# ---- the scenarios, and a directory of broken copies for probing `lab run --shard` --------------------------
def lab_list(scn=None):
    argv = [lab] + (["--scenarios", scn] if scn else []) + ["list"]
    r = run(argv)
    return r.returncode, [l.split()[0] for l in r.stdout.splitlines() if l.strip()]


rc, names = lab_list()
check(rc == 0 and len(names) > 1, f"lab list: {len(names)} scenarios, every file loads (exit {rc})")
check(lab_list()[1] == names and names == sorted(names), "lab list: the same sorted list twice")
bogus = os.path.join(tmp, "broken-scenarios")
os.makedirs(bogus)
for n in names:
    with open(os.path.join(bogus, n + ".yaml"), "w") as f:
        f.write("description: [\n")  # a YAML syntax error: lab stops at the first file of its shard


def probe(args):
    """Run the real lab on the broken scenarios: which scenario does this shard start with (None: the
    shard is empty), or a usage error."""
    r = run([lab, "--scenarios", bogus] + args)
    m = re.search(r"lab: " + re.escape(bogus) + r"/([^/:]+)\.yaml:", r.stderr)
    if m and r.returncode == 2:
        return ("first", m.group(1))
    if r.returncode == 2 and "for this shard" in r.stderr:
        return ("first", None)
    return ("error", f"exit {r.returncode}: {r.stderr.strip()[:300]}")


# ---- a stub lab: records its argv, then runs the real lab on the broken scenarios --------------------------------
stub_dir = os.path.join(tmp, "stub")
os.makedirs(stub_dir)
stub = os.path.join(stub_dir, "lab")
with open(stub, "w") as f:
    f.write('#!/bin/sh\nprintf "%s\\n" "$@" > "$STUB_ARGS"\n'
            f'exec {shlex.quote(lab)} --scenarios {shlex.quote(bogus)} "$@" 2> "$STUB_ARGS.err"\n')
os.chmod(stub, 0o755)


def run_shard(label, shell, script, env):
    """Run one shard's command as its CI would (with lab stubbed); return lab's argv and the probe."""
    argsf = os.path.join(tmp, f"{label}.args")
    e = dict(os.environ, STUB_ARGS=argsf, PATH=stub_dir + ":" + os.environ["PATH"], **env)
    r = subprocess.run([shell, "-c", script], capture_output=True, text=True, timeout=60, env=e, cwd=tmp)
    if not os.path.exists(argsf):
        return None, ("error", f"lab was not called (exit {r.returncode}: {r.stderr.strip()[:300]})")
    argv = open(argsf).read().splitlines()
    err = open(argsf + ".err").read()
    m = re.search(r"lab: " + re.escape(bogus) + r"/([^/:]+)\.yaml:", err)
    if r.returncode == 2 and m:
        return argv, ("first", m.group(1))
    if r.returncode == 2 and "for this shard" in err:
        return argv, ("first", None)
    return argv, ("error", f"exit {r.returncode}: {err.strip()[:300]}")


def opt(argv, name):
    return argv[argv.index(name) + 1] if argv and name in argv and argv.index(name) + 1 < len(argv) else None


def check_shards(label, n, results, junit_ok):
    """results: {I: (argv, probe)} for I = 1..n"""
    check(sorted(results) == list(range(1, n + 1)), f"{label}: {n} shards, numbered 1..{n}")
    junits = []
    for i, (argv, pr) in sorted(results.items()):
        shard = opt(argv, "--shard")
        check(argv is not None and argv[:2] == ["run", "--all"] and shard == f"{i}/{n}",
              f"{label}: shard {i} runs `lab run --all --shard {shard}` (want {i}/{n})")
        want = names[i - 1] if i <= len(names) else None
        check(pr == ("first", want),
              f"{label}: the real lab accepts shard {i}'s command line and starts at {want} ({pr[1]})")
        j = opt(argv, "--junit")
        check(j is not None and junit_ok(i, j), f"{label}: shard {i}'s JUnit file {j} is collected")
        check(opt(argv, "--artifacts") is not None, f"{label}: shard {i} keeps its artifacts")
        junits.append(j)
    check(len(set(junits)) == len(junits), f"{label}: every shard has its own JUnit file")


# ---- Dockerfile and compose: the entry point the examples call, privileged, /out ---------------------------------
dockerfile = open(os.path.join(docker_dir, "Dockerfile")).read()
m = re.search(r'^ENTRYPOINT\s+\["([^"]+)"\]', dockerfile, re.M)
entry = m.group(1) if m else None
check(entry == "/src/build/bin/lab", f"Dockerfile: ENTRYPOINT is lab ({entry})")
check(re.search(r'^VOLUME\s+\["/out"\]', dockerfile, re.M) is not None, "Dockerfile: /out is a volume")
(compose,) = load_all("compose.yaml")
svc = compose["services"]["lab"]
check(svc.get("privileged") is True and svc.get("init") is True, "compose: lab is privileged, with an init")
check("./out:/out" in svc.get("volumes", []) and "--junit" in svc.get("command", []), "compose: JUnit to ./out")

# ---- Kubernetes Indexed Job -------------------------------------------------------------------------------------------
docs = load_all("k8s/ztp-lab-job.yaml")
jobs = [d for d in docs if d.get("kind") == "Job"]
pvcs = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "PersistentVolumeClaim"}
if check(len(jobs) == 1, "k8s: one Job"):
    job = jobs[0]
    spec = job["spec"]
    n = spec.get("completions")
    check(job.get("apiVersion") == "batch/v1" and spec.get("completionMode") == "Indexed", "k8s: batch/v1 Job, completionMode Indexed")
    check(isinstance(n, int) and n >= 1, f"k8s: completions {n}")
    check(isinstance(spec.get("parallelism"), int) and 1 <= spec["parallelism"] <= n, f"k8s: parallelism {spec.get('parallelism')} in 1..{n}")
    pod = spec["template"]["spec"]
    check(pod.get("restartPolicy") == "Never", "k8s: restartPolicy Never (a failed shard is a result; podFailurePolicy needs it)")
    for rule in spec.get("podFailurePolicy", {}).get("rules", []):
        check(rule.get("action") != "FailIndex" or "backoffLimitPerIndex" in spec, "k8s: FailIndex comes with backoffLimitPerIndex")
    (c,) = pod["containers"]
    sc = c.get("securityContext", {})
    caps = set(sc.get("capabilities", {}).get("add", []))
    check(sc.get("privileged") is True or {"NET_ADMIN", "SYS_ADMIN"} <= caps, "k8s: the lab container is privileged (namespaces, veth, mounts)")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    check(mounts.get("/out") in vols, "k8s: /out is a volume of the pod")
    claim = vols.get(mounts.get("/out"), {}).get("persistentVolumeClaim", {}).get("claimName")
    check(claim in pvcs and "ReadWriteMany" in pvcs[claim]["spec"]["accessModes"],
          f"k8s: /out is the claim {claim}, ReadWriteMany (declared in the same file), shared by the shards")
    collect = open(os.path.join(docker_dir, "k8s/collect.sh")).read()
    check(re.search(r"\bjob=" + re.escape(job["metadata"]["name"]) + r"\b", collect) is not None
          and re.search(r"\bclaim=" + re.escape(str(claim)) + r"\b", collect) is not None,
          "k8s: collect.sh waits for this Job and copies this claim's /out")
    cmd = c.get("command", []) + c.get("args", [])
    check(cmd[:2] == ["/bin/sh", "-c"] and len(cmd) == 3 and "JOB_COMPLETION_INDEX" in cmd[2],
          "k8s: the shard comes from JOB_COMPLETION_INDEX (through /bin/sh -c)")
    check(re.match(r"\s*exec\s+" + re.escape(entry or "-") + r"\s", cmd[2] or "") is not None,
          "k8s: `exec` the image's lab (SIGTERM reaches it)")
    script = cmd[2].replace(entry, "lab")
    res = {}
    for idx in range(n):
        argv, pr = run_shard(f"k8s-{idx}", "/bin/sh", script, {"JOB_COMPLETION_INDEX": str(idx)})
        res[idx + 1] = (argv, pr)
    check_shards("k8s", n, res, lambda i, j: j.startswith("/out/"))

# ---- GitHub Actions matrix ----------------------------------------------------------------------------------------------
(gh,) = load_all("ci/github-actions.yml")
labjob = gh["jobs"]["lab"]
shards = labjob["strategy"]["matrix"]["shard"]
n = len(shards)
check(shards == list(range(1, n + 1)), f"github: matrix shard = 1..{n}")
check(labjob["strategy"].get("fail-fast") is False, "github: fail-fast off (a failing shard does not cancel the others)")
steps = labjob["steps"]
builds = [s for s in steps if "docker build" in s.get("run", "")]
tag = re.search(r"-t\s+(\S+)", builds[0]["run"]).group(1) if builds else None
runs = [s for s in steps if "docker run" in s.get("run", "")]
ups = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
if check(len(runs) == 1 and len(ups) == 1 and tag, "github: one image build, one `docker run` step, one upload"):
    body = runs[0]["run"]
    check("--privileged" in body, "github: docker run --privileged")
    vol = re.search(r'-v\s+"?\$PWD/([^:"]+):(/[^"\s]+)"?', body)
    check(vol is not None, "github: a host directory is mounted in the container")
    up = ups[0]
    check(up.get("if") == "always()", "github: results uploaded also when the shard fails")
    up_path = up["with"]["path"].rstrip("/")
    check(vol and up_path == vol.group(1), f"github: the upload path ({up_path}) is the mounted directory")
    rep = gh["jobs"].get("report", {})
    dl = [s for s in rep.get("steps", []) if str(s.get("uses", "")).startswith("actions/download-artifact@")]
    jr = [s for s in rep.get("steps", []) if "junit" in str(s.get("uses", "")).lower()]
    check(rep.get("needs") == "lab" and rep.get("if") == "always()" and dl and jr, "github: a report job after every shard, always")

    def gh_junit_ok(i, j):
        # container path -> host (the mount) -> artifact lab-shard-I -> results/lab-shard-I/... -> the report's glob
        if not vol or not j.startswith(vol.group(2).rstrip("/") + "/"):
            return False
        rel = j[len(vol.group(2).rstrip("/")) + 1:]
        name = up["with"]["name"].replace("${{ matrix.shard }}", str(i))
        if not fnmatch.fnmatch(name, dl[0]["with"]["pattern"]):
            return False
        downloaded = f'{dl[0]["with"]["path"].rstrip("/")}/{name}/{rel}'
        return fnmatch.fnmatch(downloaded, jr[0]["with"]["report_paths"])

    # `docker run [opts] IMAGE ARGS...` -> lab ARGS (the image's entry point)
    shim = ('docker() { [ "$1" = run ] || return 90; shift; while [ $# -gt 0 ]; do case $1 in '
            f'-v|-e|--name|--network) shift 2 ;; -*) shift ;; {tag}) shift; break ;; *) return 91 ;; esac; done; '
            'lab "$@"; }\n')
    res = {}
    for i in shards:
        argv, pr = run_shard(f"github-{i}", "bash", shim + body.replace("${{ matrix.shard }}", str(i)), {})
        res[i] = (argv, pr)
    check_shards("github", n, res, gh_junit_ok)

# ---- GitLab parallel ------------------------------------------------------------------------------------------------------
gl = load_all("ci/gitlab-ci.yml")[0]
job = gl["lab"]
n = job.get("parallel")
check(isinstance(n, int) and 2 <= n <= 200, f"gitlab: parallel: {n} (CI_NODE_INDEX 1..{n})")
check(job["image"].get("entrypoint") == [""], "gitlab: the image's entry point is cleared (GitLab runs a shell)")
check(job["artifacts"].get("when") == "always" and "junit" in job["artifacts"].get("reports", {}), "gitlab: JUnit reports kept always")
pattern = job["artifacts"]["reports"]["junit"]
script = "\n".join(job["script"]).replace(entry, "lab")
res = {}
for i in range(1, n + 1):
    res[i] = run_shard(f"gitlab-{i}", "bash", script, {"CI_NODE_INDEX": str(i), "CI_NODE_TOTAL": str(n)})
check_shards("gitlab", n, res, lambda i, j: fnmatch.fnmatch(j, pattern))

# ---- `lab run --all --shard I/N` partitions the scenario list --------------------------------------------------------------
# `lab list --shard I/N` lists exactly the scenarios `lab run --all --shard I/N` runs (one function decides).
listing = run([lab, "list", "--shard", "1/1"]).returncode == 0
check(listing, "lab list --shard I/N lists a shard's scenarios")
for n in range(1, 6):
    if listing:
        got = {}
        for i in range(1, n + 1):
            a = run([lab, "list", "--shard", f"{i}/{n}"])
            b = run([lab, "list", "--shard", f"{i}/{n}"])
            got[i] = [l.split()[0] for l in a.stdout.splitlines() if l.strip()]
            check(a.stdout == b.stdout and a.returncode == 0, f"lab list --shard {i}/{n}: the same answer twice")
        flat = sorted(x for v in got.values() for x in v)
        check(flat == names, f"--shard I/{n}: every scenario in exactly one shard ({[len(v) for v in got.values()]})")
    else:
        # the real `lab run --all --shard I/N` on broken copies of the scenarios names the first scenario of its shard:
        # scenario k (lab list order) belongs to shard k mod N + 1, so shard I starts at the I-th.
        firsts = {}
        for i in range(1, n + 1):
            a, b = probe(["run", "--all", "--shard", f"{i}/{n}"]), probe(["run", "--all", "--shard", f"{i}/{n}"])
            check(a == b and a == ("first", names[i - 1]), f"lab run --all --shard {i}/{n} starts at {names[i - 1]}, twice ({a[1]})")
            firsts[i] = a[1]
        part = {i: [x for k, x in enumerate(names) if k % n == i - 1] for i in range(1, n + 1)}
        check(sorted(x for v in part.values() for x in v) == names and all(part[i][0] == firsts[i] for i in part),
              f"--shard I/{n}: k mod {n} + 1 puts every scenario in exactly one shard ({[len(v) for v in part.values()]})")
for bad in ("0/3", "4/3", "1/0", "x"):
    pr = probe(["run", "--all", "--shard", bad])
    check(pr[0] == "error" and "--shard" in pr[1], f"--shard {bad} is refused")

sys.exit(1 if failures else 0)
PYEOF
zl_ok "docker/ examples and lab run --shard"
