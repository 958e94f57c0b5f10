using System.Text.Json;
using QueryStatus.Api.Store;
using QueryStatus.Api.Tests.Infrastructure;
using static QueryStatus.Api.Tests.Infrastructure.ClientKit;

namespace QueryStatus.Api.Tests.Submission;

/// <summary>
/// Sub-queries are opaque to the service: whatever JSON value a client submits is what the worker gets in
/// <c>payload</c>. Each test leases, so each has its own factory.
/// </summary>
public class PayloadTests(string provider = StoreOptions.InMemoryProvider)
{
    private static readonly string[] Payloads =
    [
        "{\"sql\":\"SELECT * FROM t WHERE a = ?\",\"params\":[1,\"x\",null]}",
        "[1,\"two\",null,true,false,{\"k\":[]}]",
        "\"just a string\"",
        "42",
        "-1.5e3",
        "null",
        "true",
        "{\"deep\":{\"deeper\":[{\"deepest\":[[[{\"x\":[[]]}]]]}]}}",
        "{}",
        "\"caf\\u00e9 \\u2603 <b>&amp;</b> \\\"quoted\\\" \\\\ \\n tab\\t\"",
    ];

    [Fact]
    public async Task EachSubQueryReachesTheWorkerAsTheSameJsonValue()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, Payloads);

        var leased = await worker.LeaseAsync(maxTasks: Payloads.Length);

        // FIFO within a license: the worker gets them in the order they were submitted.
        Assert.Equal(Payloads.Length, leased.Count);
        for (var i = 0; i < Payloads.Length; i++)
        {
            Assert.Equal(scheduleId, leased[i].ScheduleId);
            AssertJsonEqual(Payloads[i], leased[i].Payload);
        }
        Assert.Equal(JsonValueKind.Null, leased[5].Payload.ValueKind);
        Assert.Equal("caf\u00e9 \u2603 <b>&amp;</b> \"quoted\" \\ \n tab\t", leased[9].Payload.GetString());
    }

    [Fact]
    public async Task PayloadWithOddSpacingArrivesSemanticallyEqual()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        const string spaced = "  {  \"a\" :\n\t[ 1 ,2,   { \"b\" : \"x   y\" } ] ,\r\n \"c\":{ } , \"d\" : [ ]  }  ";
        using var response = await client.PostSubmitAsync($"{{ \"schedule_id\" : \"{scheduleId}\" , \"subqueries\" : [ {spaced} ,\n 7 ] }}");
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);

        var leased = await worker.LeaseAsync();

        Assert.Equal(2, leased.Count);
        AssertJsonEqual(spaced, leased[0].Payload);
        // Spacing inside strings is data, not layout.
        Assert.Equal("x   y", leased[0].Payload.GetProperty("a")[2].GetProperty("b").GetString());
        AssertJsonEqual("7", leased[1].Payload);
    }

    [Fact]
    public async Task PayloadArrivesByteForByteAsSubmitted()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        // Escapes in their original spelling (lower-case surrogates, \u00e9 for é) and spacing inside the value.
        string[] payloads = ["{ \"q\" : \"\\ud83d\\ude00 caf\\u00e9\" ,\"n\":[ 1,2 ] }", "\"\\u2603\""];
        using var response = await client.PostSubmitAsync(
            $"{{\"schedule_id\":\"{scheduleId}\",\"subqueries\":[{payloads[0]},{payloads[1]}]}}");
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);

        var leased = await worker.LeaseAsync();

        Assert.Equal(payloads, leased.Select(t => t.Payload.GetRawText()));
    }

    [Fact]
    public async Task NumbersArriveDigitForDigit()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        string[] numbers = ["123456789012345678901234567890", "0.1000000000000000055511151231257827", "1E+400", "-0", "1.50"];
        await client.SubmitAsync(scheduleId, numbers);

        var leased = await worker.LeaseAsync();

        // Nothing goes through a double: the text of each number is what the client wrote.
        Assert.Equal(numbers, leased.Select(t => t.Payload.GetRawText()));
    }

    [Fact]
    public async Task SubQueriesTheSameAsEachOtherAreSeparateTasks()
    {
        using var factory = NewFactory(provider);
        var scheduleId = TestData.NewScheduleId();
        using var client = factory.CreateJwtClient(TestData.NewLicenseId());
        using var worker = factory.CreateWorker();
        await client.SubmitAsync(scheduleId, ["{\"same\":1}", "{\"same\":1}", "{\"same\":1}"]);

        var leased = await worker.LeaseAsync();

        Assert.Equal(3, leased.Count);
        Assert.Equal(3, leased.Select(t => t.TaskId).Distinct().Count());
        Assert.All(leased, t => AssertJsonEqual("{\"same\":1}", t.Payload));
    }
}

public sealed class PayloadTestsOnPostgres() : PayloadTests(StoreOptions.PostgresProvider);
