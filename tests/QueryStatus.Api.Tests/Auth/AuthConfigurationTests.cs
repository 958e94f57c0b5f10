using System.Net;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Auth;
using QueryStatus.Api.Tests.Infrastructure;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>
/// API keys as configured under <c>Auth:ApiKeys</c>: a bad entry stops start-up with a message naming
/// it; good entries (hashed, optionally disabled) behave as configured. Indexes 0–2 hold TestKeys,
/// so these tests add theirs from index 10. Each test builds its own factory, since it needs its own settings.
/// </summary>
public sealed class AuthConfigurationTests
{
    private const string PlainKey = "qs_plain_config_key_0010";

    [Fact]
    public async Task PlainKeyOutsideDevelopmentStopsStartUp()
    {
        await using var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?>
            {
                ["Auth:ApiKeys:10:Key"] = PlainKey,
                ["Auth:ApiKeys:10:LicenseId"] = "x",
            },
        };

        var message = StartUpFailure(factory);

        Assert.Contains("Auth:ApiKeys", message);
        Assert.Contains("Key", message);
        Assert.Contains("Development", message);
        Assert.DoesNotContain(PlainKey, message);
    }

    [Theory]
    [InlineData("abc123")]
    [InlineData("not-a-hash")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde")] // 63 hex digits
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0")] // 65 hex digits
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg")] // 64 characters, one not hex
    public async Task KeyHashThatIsNot64HexDigitsStopsStartUp(string keyHash)
    {
        await using var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?>
            {
                ["Auth:ApiKeys:10:KeyHash"] = keyHash,
                ["Auth:ApiKeys:10:LicenseId"] = "x",
            },
        };

        var message = StartUpFailure(factory);

        Assert.Contains("Auth:ApiKeys", message);
        Assert.Contains("KeyHash", message);
    }

    [Fact]
    public async Task KeyWithoutLicenseStopsStartUp()
    {
        await using var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?>
            {
                ["Auth:ApiKeys:10:KeyHash"] = ApiKeyRegistry.Hash(PlainKey),
                ["Auth:ApiKeys:10:Name"] = "no license",
            },
        };

        var message = StartUpFailure(factory);

        Assert.Contains("Auth:ApiKeys", message);
        Assert.Contains("LicenseId", message);
    }

    [Fact]
    public async Task KeysConfiguredByHashWorkAndOnesMarkedDisabledAreForbidden()
    {
        const string enabledKey = "qs_config_enabled_key_0010";
        const string disabledKey = "qs_config_disabled_key_0011";
        var license = TestData.NewLicenseId();
        await using var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?>
            {
                ["Auth:ApiKeys:10:KeyHash"] = ApiKeyRegistry.Hash(enabledKey),
                ["Auth:ApiKeys:10:LicenseId"] = license,
                ["Auth:ApiKeys:10:Name"] = "enabled from config",
                ["Auth:ApiKeys:11:KeyHash"] = ApiKeyRegistry.Hash(disabledKey),
                ["Auth:ApiKeys:11:LicenseId"] = license,
                ["Auth:ApiKeys:11:Name"] = "disabled from config",
                ["Auth:ApiKeys:11:Disabled"] = "true",
            },
        };
        var schedule = await factory.PutAsync(TestData.Success(license, rows: 2));

        using var enabled = await factory.SendAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(enabledKey)));
        using var disabledAsBearer = await factory.SendAsync(
            AuthRequests.Status(schedule.ScheduleId, authorization: AuthRequests.Bearer(disabledKey)));
        using var disabledAsParameter = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: disabledKey));

        Assert.Equal(2, (await enabled.ReadJsonAsync()).GetProperty("data").GetArrayLength());
        await disabledAsBearer.AssertForbiddenAsync();
        await disabledAsParameter.AssertForbiddenAsync();
    }

    [Fact]
    public async Task KeyHashInUppercaseHexIsAccepted()
    {
        const string key = "qs_config_upper_hash_key_0012";
        var license = TestData.NewLicenseId();
        await using var factory = new QueryStatusFactory
        {
            Settings = new Dictionary<string, string?>
            {
                ["Auth:ApiKeys:10:KeyHash"] = ApiKeyRegistry.Hash(key).ToUpperInvariant(),
                ["Auth:ApiKeys:10:LicenseId"] = license,
            },
        };
        var schedule = await factory.PutAsync(TestData.Success(license, rows: 1));

        using var response = await factory.SendAsync(AuthRequests.Status(schedule.ScheduleId, apiKey: key));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>
    /// Asserts the host refuses to start and returns the text of the <see cref="OptionsValidationException"/>
    /// for <see cref="AuthOptions"/>. It is looked for in the chain of the exception that creating a client
    /// throws and in the exceptions the host logged: the app's entry point (RunOrReportAsync) reports a
    /// configuration error and returns instead of rethrowing, so WebApplicationFactory itself only sees the
    /// stopped host (an ObjectDisposedException), while the host has logged the validation failure.
    /// </summary>
    private static string StartUpFailure(QueryStatusFactory factory)
    {
        var thrown = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        var candidates = Flatten(thrown)
            .Concat(factory.Logs.Events.Where(e => e.Exception is not null).SelectMany(e => Flatten(e.Exception!)));
        var validation = candidates.OfType<OptionsValidationException>().FirstOrDefault(e => e.OptionsType == typeof(AuthOptions));
        Assert.True(validation is not null,
            $"Expected an OptionsValidationException for AuthOptions; client creation threw: {thrown}{Environment.NewLine}" +
            $"logged: {string.Join(Environment.NewLine, factory.Logs.Lines())}");
        return validation.Message + Environment.NewLine + string.Join(Environment.NewLine, validation.Failures);
    }

    private static IEnumerable<Exception> Flatten(Exception exception)
    {
        yield return exception;
        IEnumerable<Exception?> inner = exception is AggregateException aggregate
            ? aggregate.InnerExceptions
            : new[] { exception.InnerException };
        foreach (var child in inner.OfType<Exception>())
        {
            foreach (var nested in Flatten(child))
            {
                yield return nested;
            }
        }
    }
}
