using System.Text.RegularExpressions;
using Microsoft.Playwright;
using QueryStatus.Api.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace QueryStatus.Api.Tests.OpenApi;

/// <summary>
/// What a person exploring the API does in Swagger UI, in a real (headless) Chromium against the service on a
/// loopback port: open <c>/swagger</c>, Authorize with an API key, "Try it out" on the status operation for a
/// query, Execute, and read the answer on the page. Every wait is on something the page shows (Playwright's
/// auto-waiting locators and assertions), never a fixed sleep.
/// </summary>
public sealed class SwaggerUiBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const string StatusOperation = "#operations-Query_status-GetQueryStatus";

    /// <summary>Generous: the page's scripts and the browser share two cores with the rest of the test run.</summary>
    private const float Timeout = 30_000;

    /// <summary>A seeded SUCCESS query of the primary key's license, with rows no other test has.</summary>
    private async Task<string> SeedSuccessAsync(string rowMarker)
    {
        var record = await browser.Factory.PutAsync(TestData.Success(TestKeys.Primary.LicenseId) with
        {
            Rows = TestData.Rows(3, i => $"{{\"i\":{i},\"v\":\"{rowMarker}-{i}\"}}"),
        });
        return record.ScheduleId;
    }

    /// <summary>
    /// Opens Swagger UI, authorizes <paramref name="key"/> under <paramref name="scheme"/> (the dialog's "Bearer" =
    /// <c>Authorization: Bearer</c>, or "ApiKey" = the <c>api_key</c> query parameter), runs the status operation
    /// for <paramref name="scheduleId"/> and returns the row of the live response table.
    /// </summary>
    private async Task<ILocator> ExecuteStatusAsync(IBrowserContext context, string scheme, string key, string scheduleId)
    {
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        await page.GotoAsync(new Uri(browser.BaseAddress, "/swagger").ToString());

        await page.GetByRole(AriaRole.Button, new() { Name = "Authorize", Exact = true }).ClickAsync();
        var dialog = page.Locator(".auth-container")
            .Filter(new() { Has = page.Locator("h4 code", new() { HasTextRegex = new Regex($"^{scheme}$") }) });
        await dialog.GetByRole(AriaRole.Textbox).FillAsync(key);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Apply credentials" }).ClickAsync();
        // The page takes any value: "Authorized" only says it will send it.
        await Expect(dialog.GetByRole(AriaRole.Heading, new() { Name = "Authorized" })).ToBeVisibleAsync(new() { Timeout = Timeout });
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();

        var operation = page.Locator(StatusOperation);
        await operation.Locator(".opblock-summary-control").ClickAsync();
        await operation.GetByRole(AriaRole.Button, new() { Name = "Try it out" }).ClickAsync();
        await operation.Locator("tr[data-param-name='schedule_id'] input").FillAsync(scheduleId);
        await operation.GetByRole(AriaRole.Button, new() { Name = "Execute" }).ClickAsync();

        return operation.Locator(".live-responses-table tr.response");
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("ApiKey")]
    public async Task AuthorizedTryItOutShowsTheSucceededQueryAndItsRows(string scheme)
    {
        var marker = $"browser-row-{scheme.ToLowerInvariant()}";
        var scheduleId = await SeedSuccessAsync(marker);
        await using var context = await browser.Browser.NewContextAsync();

        var response = await ExecuteStatusAsync(context, scheme, TestKeys.Primary.Key, scheduleId);

        await Expect(response.Locator(".response-col_status")).ToHaveTextAsync("200", new() { Timeout = Timeout });
        var body = response.Locator(".highlight-code");
        await Expect(body).ToContainTextAsync(new Regex($"\"schedule_id\":\\s*\"{scheduleId}\""), new() { Timeout = Timeout });
        await Expect(body).ToContainTextAsync(new Regex("\"status_code\":\\s*\"SUCCESS\""), new() { Timeout = Timeout });
        foreach (var row in Enumerable.Range(0, 3))
        {
            await Expect(body).ToContainTextAsync(new Regex($"\"v\":\\s*\"{marker}-{row}\""), new() { Timeout = Timeout });
        }
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("ApiKey")]
    public async Task TryItOutWithAWrongKeyShowsThe401Envelope(string scheme)
    {
        var scheduleId = await SeedSuccessAsync("browser-row-unseen");
        await using var context = await browser.Browser.NewContextAsync();

        var response = await ExecuteStatusAsync(context, scheme, "qs_test_wrong_key_9999", scheduleId);

        await Expect(response.Locator(".response-col_status")).ToHaveTextAsync("401", new() { Timeout = Timeout });
        var body = response.Locator(".highlight-code");
        await Expect(body).ToContainTextAsync(new Regex("\"code\":\\s*\"UNAUTHORIZED\""), new() { Timeout = Timeout });
        await Expect(body).ToContainTextAsync(new Regex("\"request_id\":\\s*\"[A-Za-z0-9_-]{32}\""), new() { Timeout = Timeout });
        await Expect(body).Not.ToContainTextAsync("browser-row-unseen", new() { Timeout = Timeout });
    }
}
