namespace QueryStatus.Api.Hosting;

public static class TransportExtensions
{
    /// <summary>
    /// Kestrel's socket transport reads into a buffer right away instead of first waiting for data with a zero-byte
    /// read. Kestrel reads at most 4 KiB at a time, so a worker's 4.3 MB row batch was about 2,000 <c>recvfrom</c> calls
    /// (a zero-byte one before each read) and is now about 1,000; system calls are most of what moving bytes costs on
    /// our hosts. The price is one 4 KiB buffer held by every open connection while it waits (40 MB for 10,000
    /// long-polls). bench/Baseline uses the same setting, so the status poll's ratio to it still measures our code.
    /// </summary>
    public static IWebHostBuilder UseQueryStatusTransport(this IWebHostBuilder webHost) =>
        webHost.UseSockets(options => options.WaitForDataBeforeAllocatingBuffer = false);
}
