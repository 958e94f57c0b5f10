namespace QueryStatus.Cli;

/// <summary>
/// Where <c>qs rows</c> writes: standard output (rows go out as they arrive), or a file that appears, or is replaced,
/// only once every row is written (a failed run leaves no partial file behind: it writes to a temporary file beside it).
/// </summary>
internal sealed class RowSink : IDisposable
{
    private readonly string? _path;
    private readonly string? _temporary;
    private bool _committed;

    public Stream Stream { get; }

    private RowSink(Stream stream, string? path, string? temporary)
    {
        Stream = stream;
        _path = path;
        _temporary = temporary;
    }

    public static RowSink ToStandardOutput(Stream rawOut) => new(new BufferedStream(rawOut, 1 << 16), null, null);

    /// <summary>Opens the temporary file at once, so that a path that cannot be written fails before any request.</summary>
    public static RowSink ToFile(string path)
    {
        try
        {
            var full = Path.GetFullPath(path);
            if (Directory.Exists(full))
            {
                throw new UsageException($"--out {path}: is a directory.");
            }
            var temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            return new RowSink(stream, full, temporary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"--out {path}: cannot write there ({e.Message})", e);
        }
    }

    /// <summary>Every row is written: flush, and put the file in place.</summary>
    public void Commit()
    {
        Stream.Flush();
        if (_path is not null)
        {
            Stream.Dispose();
            File.Move(_temporary!, _path, overwrite: true);
        }
        _committed = true;
    }

    public void Dispose()
    {
        if (_path is null)
        {
            // Standard output stays open (it is not ours); what was written goes out, even after a failure.
            try
            {
                Stream.Flush();
            }
            catch (IOException)
            {
                // The reader went away (a closed pipe): nothing more to do.
            }
            return;
        }
        if (!_committed)
        {
            Stream.Dispose();
            File.Delete(_temporary!);
        }
    }
}
