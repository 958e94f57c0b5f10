namespace QueryStatus.Cli;

// An explicit Main in a namespace, not top-level statements: the test project references this project and the API's,
// and two global Program classes would collide.
public static class Program
{
    public static int Main(string[] args) => args.Length == 0 ? 2 : 2;
}
