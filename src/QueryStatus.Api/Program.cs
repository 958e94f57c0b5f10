using QueryStatus.Api.Auth;
using QueryStatus.Api.Cors;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Health;
using QueryStatus.Api.Hosting;
using QueryStatus.Api.Http;
using QueryStatus.Api.Observability;
using QueryStatus.Api.OpenApi;
using QueryStatus.Api.RateLimiting;
using QueryStatus.Api.Status;
using QueryStatus.Api.Store;
using QueryStatus.Api.Submission;
using QueryStatus.Api.Tasks;

var builder = WebApplication.CreateBuilder(args);

// Request bodies are read without a zero-byte read before each 4 KiB: half the system calls for a worker's rows.
builder.WebHost.UseQueryStatusTransport();

// Structured logs from appsettings; one line per request, never with the query string (it can hold api_key).
builder.AddQueryStatusLogging();

// Every failure answers with the one error envelope, whoever detects it.
builder.Services.AddErrorEnvelope();
// A JSON body with a key given twice is refused, not settled by the last one.
builder.Services.AddStrictJsonBodies();

// API keys (hashed, from configuration) or JWTs (JwtBearer, configured from Authentication:Schemes:Bearer).
builder.Services.AddQueryStatusAuth();

// Fixed-window limits per license, from configuration.
builder.Services.AddLicenseRateLimiting();

// The in-memory schedule store, seeded from Store:SeedFile, swept of expired results.
builder.Services.AddScheduleStore();

builder.Services.AddStatusApi();
builder.Services.AddSubmissionApi();
builder.Services.AddTasksApi();
builder.Services.AddQueryStatusHealth();
builder.Services.AddQueryStatusCors();
builder.Services.AddQueryStatusOpenApi();

var app = builder.Build();

// Request id and logging first, so every response and log line (errors included) carries the id.
app.UseQueryStatusRequestLogging();
app.UseErrorEnvelope();

// 401/403/404/405 without a body get the envelope.
app.UseStatusCodeEnvelope();
// Budget headers on every API response, whatever answers it (short-circuited endpoints and binding failures included).
app.UseRateLimitHeaders();

// Preflights are answered before routing or auth: browsers send them without credentials.
app.UseCors();
// Short-circuited endpoints (the status poll) run here, their authentication, limit and policy in their first filter.
app.UseRouting();

// Worker calls carry rows: their bodies are capped (413) before anything reads them.
app.UseWorkerBodyLimit();
// JSON bodies are UTF-8: another charset is 415 before anything reads the body.
app.UseUtf8JsonBodies();
app.UseAuthentication();
// After authentication, so requests are counted against the caller's license.
app.UseLicenseRateLimiting();
app.UseAuthorization();
// Then a worker's body is read whole, so its rows are parsed once, in one piece.
app.UseWholeWorkerBodies();

app.UseQueryStatusOpenApi();
app.MapQueryStatusHealth();
app.MapStatusApi();
app.MapSubmissionApi();
app.MapTasksApi();

await app.RunOrReportAsync();
