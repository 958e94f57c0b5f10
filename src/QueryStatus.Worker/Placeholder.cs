namespace QueryStatus.Worker;
internal static class Placeholder;
