namespace QueryStatus.Client;
internal static class Placeholder;
