using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using QueryStatus.Api.Auth;

namespace QueryStatus.Api.Tests.Auth;

/// <summary>
/// A keep-alive connection remembers the last valid API key presented on it (the status poll then skips the
/// SHA-256). It must never answer for another key, never remember a key that is not valid, and stay out of
/// connections that serve requests concurrently. The test host has no connection items, so these run on
/// contexts built here, with the items feature Kestrel gives every connection.
/// </summary>
public sealed class ApiKeyConnectionMemoTests
{
    private const string First = "first_key_0123456789";
    private const string Second = "second_key_012345678";
    private const string Odd = "odd_length_key_0123456"; // 44 bytes as UTF-16: the comparison's tail is used

    private readonly ApiKeyRegistry _registry = new(Options.Create(new AuthOptions
    {
        ApiKeys =
        [
            new ApiKeyOptions { KeyHash = ApiKeyRegistry.Hash(First), LicenseId = "lic_first", Name = "first" },
            new ApiKeyOptions { KeyHash = ApiKeyRegistry.Hash(Second), LicenseId = "lic_second", Name = "second" },
            new ApiKeyOptions { KeyHash = ApiKeyRegistry.Hash(Odd), LicenseId = "lic_odd", Name = "odd" },
        ],
    }));

    private sealed class Connection : IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }

    private static HttpContext Request(Connection connection, string protocol = "HTTP/1.1")
    {
        var context = new DefaultHttpContext();
        context.Request.Protocol = protocol;
        context.Features.Set<IConnectionItemsFeature>(connection);
        return context;
    }

    [Fact]
    public void TheSameKeyAgainOnTheConnectionFindsTheSameEntryFromWhatTheConnectionRemembers()
    {
        var connection = new Connection();

        var first = _registry.Find(First, Request(connection));
        var again = _registry.Find(First, Request(connection));

        Assert.Equal("first", first?.Name);
        Assert.Same(first, again);
        Assert.Single(connection.Items);
    }

    [Fact]
    public void AnotherKeyOnTheSameConnectionIsLookedUpNotTakenFromTheMemo()
    {
        var connection = new Connection();
        _registry.Find(First, Request(connection));

        Assert.Equal("second", _registry.Find(Second, Request(connection))?.Name);
        Assert.Equal("first", _registry.Find(First, Request(connection))?.Name);
        // Same length as a remembered key, one character off.
        Assert.Null(_registry.Find(First[..^1] + "X", Request(connection)));
    }

    [Theory]
    [InlineData(First)]
    [InlineData(Odd)]
    public void AKeyOneCharacterOffFromTheRememberedOneIsNotFound(string remembered)
    {
        var connection = new Connection();
        Assert.NotNull(_registry.Find(remembered, Request(connection)));

        Assert.Null(_registry.Find("X" + remembered[1..], Request(connection)));
        Assert.Null(_registry.Find(remembered[..10] + "X" + remembered[11..], Request(connection)));
        Assert.Null(_registry.Find(remembered[..^1] + "X", Request(connection)));
        Assert.Null(_registry.Find(remembered + "X", Request(connection)));
        Assert.Null(_registry.Find(remembered[..^1], Request(connection)));
        Assert.NotNull(_registry.Find(remembered, Request(connection)));
    }

    [Fact]
    public void AnUnknownKeyIsNeverRememberedAndDoesNotDisplaceAValidOne()
    {
        var fresh = new Connection();
        Assert.Null(_registry.Find("unknown_key_01234567", Request(fresh)));
        Assert.Empty(fresh.Items);

        var used = new Connection();
        var entry = _registry.Find(First, Request(used));
        var remembered = Assert.Single(used.Items);
        Assert.Null(_registry.Find("unknown_key_01234567", Request(used)));
        Assert.Equal(remembered, Assert.Single(used.Items));
        Assert.Same(entry, _registry.Find(First, Request(used)));
    }

    [Fact]
    public void AnotherRegistryIsNotAnsweredFromTheMemo()
    {
        var connection = new Connection();
        _registry.Find(First, Request(connection));
        var rebuilt = new ApiKeyRegistry(Options.Create(new AuthOptions
        {
            ApiKeys = [new ApiKeyOptions { KeyHash = ApiKeyRegistry.Hash(Second), LicenseId = "lic_second", Name = "second" }],
        }));

        Assert.Null(rebuilt.Find(First, Request(connection)));
    }

    [Theory]
    [InlineData("HTTP/2")]
    [InlineData("HTTP/3")]
    public void ConnectionsThatServeRequestsConcurrentlyRememberNothing(string protocol)
    {
        var connection = new Connection();

        Assert.Equal("first", _registry.Find(First, Request(connection, protocol))?.Name);
        Assert.Empty(connection.Items);
    }

    [Fact]
    public void WithoutConnectionItemsTheKeyIsStillFound() =>
        Assert.Equal("second", _registry.Find(Second, new DefaultHttpContext { Request = { Protocol = "HTTP/1.1" } })?.Name);
}
