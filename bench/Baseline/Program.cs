// The fastest answer ASP.NET Core gives for a body of known bytes: a minimal-API endpoint per scenario
// writing a pre-built byte array (Content-Type application/json). QueryStatus is measured against it.
//
//   dotnet Baseline.dll --Bodies <folder> --urls http://127.0.0.1:5090
//
// Every <name>.json in the folder is served at GET /<name>, byte for byte; GET /healthz answers "ok".
// --HoldMiB N (bench/run.sh --baseline-holds-data): hold N MiB, written once, so that the baseline's resident size is
// the service's after its data is loaded; on a paravirtualised VM a large resident size costs every request
// (bench/RESULTS.md, eighteenth session).

var builder = WebApplication.CreateBuilder(args);
// The service's transport setting (src/QueryStatus.Api/Hosting/TransportExtensions.cs), so that the two differ in code only.
builder.WebHost.UseSockets(options => options.WaitForDataBeforeAllocatingBuffer = false);
var app = builder.Build();

var held = new List<byte[]>();
for (var i = 0; i < app.Configuration.GetValue("HoldMiB", 0); i++)
{
    var block = GC.AllocateUninitializedArray<byte>(1 << 20);
    block.AsSpan().Fill(1);
    held.Add(block);
}

var folder = app.Configuration["Bodies"]
    ?? throw new InvalidOperationException("Give the folder of captured bodies: --Bodies <folder>.");
var files = Directory.GetFiles(folder, "*.json");
if (files.Length == 0)
{
    throw new InvalidOperationException($"No *.json bodies in {folder}.");
}

foreach (var file in files)
{
    var body = File.ReadAllBytes(file);
    app.MapGet("/" + Path.GetFileNameWithoutExtension(file), () => Results.Bytes(body, "application/json"));
}
app.MapGet("/healthz", () => "ok");

app.Run();
GC.KeepAlive(held);
