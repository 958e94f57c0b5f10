namespace QueryStatus.Cli;

/// <summary>What <c>qs</c> exits with; scripts branch on these.</summary>
public static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Success = 0;

    /// <summary>The query ended FAILURE or STOPPED (<c>status --wait</c>), or has no rows to read (<c>rows</c> of a query not in SUCCESS).</summary>
    public const int QueryNotSucceeded = 1;

    /// <summary>The command line is wrong: unknown command or option, a missing or bad argument, a file that cannot be read or written.</summary>
    public const int Usage = 2;

    /// <summary>The request failed: an error answer of the service (the envelope's code, message and request id on stderr), or no usable answer at all.</summary>
    public const int RequestFailed = 3;

    /// <summary>Interrupted (Ctrl+C), as shells report a SIGINT.</summary>
    public const int Interrupted = 130;
}
