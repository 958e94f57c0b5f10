#!/usr/bin/env python3
"""A/B of two QueryStatus builds (or one build under two settings) on the RUNNING status poll.

    dotnet build src/QueryStatus.Api -c Release -o /tmp/a      # e.g. your change
    git stash; dotnet build src/QueryStatus.Api -c Release -o /tmp/b; git stash pop
    python3 bench/ab.py /tmp/a /tmp/b [pairs=8] [slice_seconds=5]
    ABENV_B="Serilog__MinimumLevel__Default=Warning" python3 bench/ab.py /tmp/a /tmp/a   # settings per side

Both servers run at once (Production, one RUNNING schedule seeded, one API key), loaded in alternating wrk
slices (A B, B A, ...); prints req/s and server CPU us/request per slice and the median of the pair ratios A/B.

    ABMODE=concurrent python3 bench/ab.py /tmp/a /tmp/b

loads both at the same time instead (one wrk -t1 -c32 each): whatever the machine does in those seconds it does
to both, so the CPU-per-request ratio holds to about +-2% per pair where alternate slices swing +-10-15%. Use it
to judge a change of a few per cent; req/s ratios are less steady this way (the two wrk share the CPUs too).
    ABAUTH=jwt python3 bench/ab.py /tmp/a /tmp/b

polls with a JWT (HS256, made here, sent as Authorization: Bearer) instead of the api_key parameter.
Both servers get the image's runtime settings (the Dockerfile's ENV DOTNET_... lines), as bench/run.sh gives every
server; ABENV_A / ABENV_B override them (ABENV_B="DOTNET_GCgen0size=0" for the runtime's own gen0 budget).
    ABROWS_B=10000000 ABMODE=concurrent python3 bench/ab.py /tmp/a /tmp/a

loads that many rows into that side first, through the worker API (one query of one task, batches of ABBATCH_B
rows, 50,000 by default), as bench/run.sh does before its scenarios: what holding a large result, and having run the
ingest path, costs a poll. ABFULLGC=1 then forces a full blocking collection in both (dotnet-gcdump, from
bench/.tools; bench/run.sh --soak installs it) and prints each side's resident size.
For judging a change to QueryStatus itself: bench/run.sh measures against the bare baseline instead.
Needs python3, wrk, curl.
"""
import base64, hashlib, hmac, http.client, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

dir_a, dir_b = sys.argv[1], sys.argv[2]
pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 8
slice_seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
mode = os.environ.get("ABMODE", "alternate")
if mode not in ("alternate", "concurrent"):
    sys.exit(f"ABMODE must be alternate or concurrent, not {mode}")
concurrent = mode == "concurrent"
key = "bench_" + os.urandom(16).hex()
worker_key = "bench_" + os.urandom(16).hex()
work = tempfile.mkdtemp(prefix="querystatus-ab-")
seed = os.path.join(work, "seed.json")
with open(seed, "w") as f:
    json.dump({"schedules": [{"schedule_id": "ab_running", "license_id": "lic_ab", "status_code": "RUNNING",
                              "subqueries": ["DONE", "RUNNING", "QUEUED"], "failure": None, "data": []}]}, f)
auth = os.environ.get("ABAUTH", "apikey")
if auth not in ("apikey", "jwt"):
    sys.exit(f"ABAUTH must be apikey or jwt, not {auth}")
signing_key = os.urandom(32)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt():
    now = int(time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"iss": "qs-ab", "aud": "querystatus", "sub": "ab", "license_id": "lic_ab",
                                "nbf": now - 60, "exp": now + 3600}).encode())
    signature = hmac.new(signing_key, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64url(signature)}"


if auth == "jwt":
    path = "/enterprise/v2/query/status?schedule_id=ab_running"
    headers = ["-H", f"Authorization: Bearer {jwt()}"]
else:
    path = f"/enterprise/v2/query/status?schedule_id=ab_running&api_key={key}"
    headers = []


# The runtime settings the image sets (the Dockerfile's ENV DOTNET_... lines), as bench/run.sh gives every server.
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
image_env = dict(re.findall(r"^ENV\s+(DOTNET_\w+)=(\S+)\s*$", open(os.path.join(repo, "Dockerfile")).read(), re.M))


def start(directory, port, extra):
    env = dict(os.environ, **image_env, ASPNETCORE_ENVIRONMENT="Production", Store__SeedFile=seed,
               Auth__ApiKeys__0__KeyHash=hashlib.sha256(key.encode()).hexdigest(), Auth__ApiKeys__0__LicenseId="lic_ab",
               RateLimiting__PermitLimit="100000000", Scheduler__MaxRowsPerRun="10000000",
               Auth__ApiKeys__1__KeyHash=hashlib.sha256(worker_key.encode()).hexdigest(), Auth__ApiKeys__1__Scopes__0="worker",
               Authentication__Schemes__Bearer__ValidIssuer="qs-ab", Authentication__Schemes__Bearer__ValidAudiences__0="querystatus",
               Authentication__Schemes__Bearer__SigningKeys__0__Issuer="qs-ab",
               Authentication__Schemes__Bearer__SigningKeys__0__Value=base64.b64encode(signing_key).decode())
    env.update(dict(kv.split("=", 1) for kv in extra.split() if kv))
    process = subprocess.Popen(["dotnet", "QueryStatus.Api.dll", "--urls", f"http://127.0.0.1:{port}"], cwd=directory,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        time.sleep(0.2)
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", *headers, f"http://127.0.0.1:{port}{path}"]).returncode == 0:
            return process
    process.kill()
    sys.exit(f"QueryStatus from {directory} did not answer on port {port}")


def cpu_us(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / os.sysconf("SC_CLK_TCK")


def load(process, port, seconds):
    before = cpu_us(process.pid)
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", *headers, f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True).stdout
    after = cpu_us(process.pid)
    if "Non-2xx" in out:
        sys.exit("a response was not 2xx:\n" + out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), (after - before) / requests


def load_both(seconds):
    """Both servers loaded at once, each by its own wrk with half the connections: whatever the machine does in
    those seconds, it does to both, so their CPU per request compares far more steadily than in alternate slices."""
    before = cpu_us(a.pid), cpu_us(b.pid)
    runs = [subprocess.Popen(["wrk", "-t1", "-c32", f"-d{seconds}s", *headers, f"http://127.0.0.1:{port}{path}"],
                             stdout=subprocess.PIPE, text=True) for port in (5121, 5122)]
    outs = [run.communicate()[0] for run in runs]
    after = cpu_us(a.pid), cpu_us(b.pid)
    results = []
    for out, t0, t1 in zip(outs, before, after):
        if "Non-2xx" in out:
            sys.exit("a response was not 2xx:\n" + out)
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        results.append((float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), (t1 - t0) / requests))
    return {"A": results[0], "B": results[1]}


def post(port, path, credential, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("POST", path, body=body, headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status >= 300:
        sys.exit(f"POST {path}: {response.status} {data[:300]!r}")
    return json.loads(data)


def ingest(port, rows, batch):
    """One query of one task whose worker sends `rows` rows (shaped like bench/run.sh's) in batches, then completes it."""
    started = time.time()
    post(port, "/enterprise/v2/query/submit", key, json.dumps({"subqueries": [{"q": 1}]}))
    task = post(port, "/enterprise/v2/tasks/lease", worker_key,
                json.dumps({"worker_id": "ab", "max_tasks": 1, "lease_seconds": 600, "wait_seconds": 0}))["tasks"][0]
    for number, first in enumerate(range(0, rows, batch)):
        body = '{"lease_token":"%s","batch":%d,"rows":[%s]}' % (task["lease_token"], number, ",".join(
            '{"date":"2026-11-%02d","campaign":"Campaign %09d","impressions":%d,"clicks":%d}' % (1 + i % 28, i, 10000 + i % 90000, 100 + i % 900)
            for i in range(first, min(rows, first + batch))))
        post(port, f"/enterprise/v2/tasks/{task['task_id']}/rows", worker_key, body.encode())
    post(port, f"/enterprise/v2/tasks/{task['task_id']}/complete", worker_key, json.dumps({"lease_token": task["lease_token"]}))
    print(f"port {port}: {rows} rows loaded in {time.time() - started:.1f} s", flush=True)


def resident_kb(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


a = start(dir_a, 5121, os.environ.get("ABENV_A", ""))
b = start(dir_b, 5122, os.environ.get("ABENV_B", ""))
try:
    for side, port in (("A", 5121), ("B", 5122)):
        if int(os.environ.get(f"ABROWS_{side}", "0")) > 0:
            ingest(port, int(os.environ[f"ABROWS_{side}"]), int(os.environ.get(f"ABBATCH_{side}", "50000")))
    if os.environ.get("ABFULLGC"):
        for name, process in (("A", a), ("B", b)):
            subprocess.run([os.path.join(repo, "bench/.tools/dotnet-gcdump"), "collect", "-p", str(process.pid), "-o",
                            os.path.join(work, f"{name}.gcdump")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            print(f"{name}: full collection forced; resident {resident_kb(process.pid) / 1024:.0f} MiB", flush=True)
    load(a, 5121, 6)
    load(b, 5122, 6)
    rps_ratios, cpu_ratios = [], []
    for i in range(pairs):
        sides = [("A", a, 5121), ("B", b, 5122)]
        if concurrent:
            result = load_both(slice_seconds)
        else:
            result = {name: load(process, port, slice_seconds) for name, process, port in (sides if i % 2 == 0 else sides[::-1])}
        rps_ratios.append(result["A"][0] / result["B"][0])
        cpu_ratios.append(result["A"][1] / result["B"][1])
        print(f"pair {i + 1}: A {result['A'][0]:.0f} req/s {result['A'][1]:.1f} us/req | "
              f"B {result['B'][0]:.0f} req/s {result['B'][1]:.1f} us/req", flush=True)
    print(f"median A/B: req/s {statistics.median(rps_ratios):.3f}, CPU/req {statistics.median(cpu_ratios):.3f} "
          f"(pairs: req/s {' '.join(f'{r:.2f}' for r in rps_ratios)}; CPU {' '.join(f'{c:.2f}' for c in cpu_ratios)})")
finally:
    a.kill()
    b.kill()
    shutil.rmtree(work, ignore_errors=True)
