namespace QueryStatus.Cli;

// An explicit Main in a namespace, not top-level statements: the test project references this project and the API's,
// and two global Program classes would collide.
public static class Program
{
    public static Task<int> Main(string[] args) => CliApp.RunAsync(args, CliEnvironment.FromSystemConsole());
}
