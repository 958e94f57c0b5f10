using System.Text;
using QueryStatus.Api.Http;

namespace QueryStatus.Api.Tests.Http;

public sealed class JsonTextTests
{
    [Theory]
    [InlineData("""{"a":"plain"}""")]
    [InlineData("""{"a":"caf\u00e9 \ud83d\ude00"}""")] // escapes of a character and of a surrogate pair
    [InlineData("""["\\ud800 is text here: an escaped backslash"]""")]
    [InlineData("""{"\u0041":1}""")]
    public void TextThatEveryReaderCanReadIsReadable(string json) => Assert.True(JsonText.IsReadable(Encoding.UTF8.GetBytes(json)));

    [Theory]
    [InlineData("""{"a":"\ud800"}""")]
    [InlineData("""{"a":"\udc00\ud800"}""")]
    [InlineData("""{"\ud83d":1}""")]
    public void AnEscapedSurrogateWithoutItsPairIsNotReadable(string json) => Assert.False(JsonText.IsReadable(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void BytesThatAreNotUtf8AreNotReadable() => Assert.False(JsonText.IsReadable([.. "{\"a\":\""u8, 0xFF, .. "\"}"u8]));
}
