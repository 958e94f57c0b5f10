namespace QueryStatus.Cli;

/// <summary>The command cannot run as given (a bad argument, a file that cannot be read or written): exit code 2.</summary>
internal sealed class UsageException(string message, Exception? inner = null) : Exception(message, inner);
