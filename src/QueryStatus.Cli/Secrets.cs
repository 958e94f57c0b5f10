namespace QueryStatus.Cli;

/// <summary>
/// The credentials of this run (<c>--api-key</c>'s value, however spelled, and <c>$QS_API_KEY</c>): every message qs
/// writes to standard error passes through <see cref="Redact"/>, so a credential is never printed, even when it ends up
/// in a parser error (a mistyped option before it) or an exception's text.
/// </summary>
internal sealed class Secrets
{
    private const string Mask = "***";
    private readonly string[] _values;

    public Secrets(IReadOnlyList<string> args, string? environmentKey)
    {
        var values = new List<string>();
        if (!string.IsNullOrEmpty(environmentKey))
        {
            values.Add(environmentKey);
        }
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (IsKeyOption(arg) && i + 1 < args.Count)
            {
                values.Add(args[i + 1]);
            }
            else if (arg.StartsWith("--api-key", StringComparison.OrdinalIgnoreCase) && arg.Length > 10 && arg[9] is '=' or ':')
            {
                values.Add(arg[10..]);
            }
        }
        // Longest first: a key that contains another is masked whole.
        _values = [.. values.Where(v => v.Length > 0).Distinct(StringComparer.Ordinal).OrderByDescending(v => v.Length)];
    }

    /// <summary>Any option that looks like the key's (<c>--api-key</c>, or a near miss such as <c>--apikey</c>): its value is masked too.</summary>
    private static bool IsKeyOption(string arg) =>
        arg.StartsWith("--", StringComparison.Ordinal) && arg.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal)
            .Equals("apikey", StringComparison.OrdinalIgnoreCase);

    public string Redact(string text)
    {
        foreach (var value in _values)
        {
            text = text.Replace(value, Mask, StringComparison.Ordinal);
        }
        return text;
    }
}
