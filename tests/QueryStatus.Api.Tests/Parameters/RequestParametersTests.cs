using Microsoft.AspNetCore.Http;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Tests.Parameters;

/// <summary>
/// The one parser of the API's parameters reads the raw query string as <see cref="HttpRequest.Query"/> would
/// (names in any case, <c>+</c> and %-escapes decoded, malformed escapes kept as written), plain or inside <c>json</c>.
/// </summary>
public sealed class RequestParametersTests
{
    private static RequestParameters Parse(string query)
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString(query);
        return RequestParameters.For(context);
    }

    private static string Read(string query)
    {
        var parameters = Parse(query);
        return string.Join(" ", ParameterNames.InOrder.Where(n => parameters[n] is not null).Select(n => $"{n}=[{parameters[n]}]"));
    }

    [Theory]
    [InlineData("?schedule_id=s_1&api_key=k", "schedule_id=[s_1] api_key=[k]")]
    [InlineData("?SCHEDULE_ID=s_1&Api_Key=k&offset_start=10&OFFSET_END=20&pretty=true",
        "schedule_id=[s_1] offset_start=[10] offset_end=[20] api_key=[k] pretty=[true]")]
    [InlineData("?schedule%5Fid=s_1&api%5fkey=k", "schedule_id=[s_1] api_key=[k]")]
    [InlineData("?schedule_id=a+b%20c%2Bd&api_key=%26%3D", "schedule_id=[a b c+d] api_key=[&=]")]
    [InlineData("?schedule_id=s_1&utm=1&utm=2&UTM=3", "schedule_id=[s_1]")]
    [InlineData("?schedule_id=&api_key", "schedule_id=[] api_key=[]")]
    [InlineData("?&&schedule_id=s_1&&=x&=&", "schedule_id=[s_1]")]
    [InlineData("?schedule_id=%E2%82%AC%zz%4", "schedule_id=[€%zz%4]")]
    [InlineData("?jsonx=1&xjson=2&schedule_id=s_1", "schedule_id=[s_1]")]
    [InlineData("?schedule_id=a&%C5%BFchedule_id=b", "schedule_id=[a]")]
    [InlineData("?schedule_id+=x&api_key=k", "api_key=[k]")]
    [InlineData("?", "")]
    [InlineData("", "")]
    public void PlainParametersAreDecodedAsTheFrameworkDecodesThem(string query, string expected) =>
        Assert.Equal(expected, Read(query));

    [Theory]
    [InlineData("?json=%7B%22schedule_id%22%3A%22s_1%22%7D", "schedule_id=[s_1]")]
    [InlineData("?schedule_id=s_1&JSON=%7B%7D", "schedule_id=[s_1]")]
    [InlineData("?schedule_id=s_1&%6Ason=%7B%7D", "schedule_id=[s_1]")]
    [InlineData("?json=%7B%22offset_start%22%3A5%2C%22pretty%22%3Atrue%7D&schedule_id=s", "schedule_id=[s] offset_start=[5] pretty=[true]")]
    [InlineData("?offset_start=5&json=%7B%22offset_start%22%3A%225%22%7D", "offset_start=[5]")]
    [InlineData("?json=%7B%22SCHEDULE_ID%22%3A%22s_1%22%2C%22Offset_End%22%3A7%7D", "schedule_id=[s_1] offset_end=[7]")]
    [InlineData("?OFFSET_START=5&json=%7B%22offset_start%22%3A5%7D", "offset_start=[5]")]
    public void JsonParameterInAnyCaseOrEncodingIsMergedWithThePlainOnes(string query, string expected) =>
        Assert.Equal(expected, Read(query));

    [Theory]
    [InlineData("?schedule_id=a&schedule_id=b", "schedule_id: given more than once; give it once.")]
    [InlineData("?schedule_id=a&SCHEDULE_ID=a", "schedule_id: given more than once; give it once.")]
    [InlineData("?api_key=k&api%5Fkey=k", "api_key: given more than once; give it once.")]
    [InlineData("?schedule_id&schedule_id=a", "schedule_id: given more than once; give it once.")]
    [InlineData("?json=%7B%7D&JSON=%7B%7D", "json: given more than once; give one JSON object.")]
    [InlineData("?schedule_id=s_1&json", "json: not valid JSON (at byte 0); send one URL-encoded JSON object.")]
    [InlineData("?json=%7B%22schedule_id%22%3A%22%5Cud800%22%7D", "json: a name or string in it is not valid Unicode (an unpaired surrogate such as \\ud800).")]
    [InlineData("?json=%7B%22%5Cudc00%22%3A1%7D", "json: a name or string in it is not valid Unicode (an unpaired surrogate such as \\ud800).")]
    [InlineData("?json=%7B%22schedule_id%22%3A%22a%22%2C%22Schedule_Id%22%3A%22a%22%7D", "schedule_id: given more than once inside json.")]
    [InlineData("?Offset_Start=1&json=%7B%22OFFSET_START%22%3A2%7D", "offset_start: given both in json and as a plain parameter with different values; give it once.")]
    [InlineData("?json=%7B%22Pretty%22%3A%5B%5D%7D", "pretty: must be a string or a number inside json, not a array.")]
    public void RepeatedOrUnreadableParameterIsABadRequestNamingIt(string query, string description)
    {
        var error = Assert.Throws<ApiException>(() => Parse(query));

        Assert.Equal((StatusCodes.Status400BadRequest, description), (error.StatusCode, error.Description));
    }

    [Fact]
    public void ParametersAreParsedOncePerRequest()
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString("?schedule_id=s_1");

        Assert.Same(RequestParameters.For(context), RequestParameters.For(context));
    }
}
