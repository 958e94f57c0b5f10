namespace QueryStatus.Api.Tests.Observability;

/// <summary>A log property value whose ToString logs: formatting it logs another event on the same thread.</summary>
internal sealed class ChattyValue(Action log)
{
    public override string ToString()
    {
        log();
        return "chatty value";
    }
}
