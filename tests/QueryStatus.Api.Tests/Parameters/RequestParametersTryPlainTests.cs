using Microsoft.AspNetCore.Http;
using QueryStatus.Api.Errors;
using QueryStatus.Api.Parameters;

namespace QueryStatus.Api.Tests.Parameters;

/// <summary>
/// The fast lane reads the raw query string itself; whatever it reads must be exactly what the pipeline reads
/// through <see cref="HttpRequest.Query"/>, and whatever the pipeline would refuse or read from <c>json</c> it
/// must leave to the pipeline (null).
/// </summary>
public sealed class RequestParametersTryPlainTests
{
    private static readonly string[] Names = [.. ParameterNames.All];

    private static RequestParameters Pipeline(string query)
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString(query);
        return RequestParameters.For(context);
    }

    [Theory]
    [InlineData("?schedule_id=s_1&api_key=k")]
    [InlineData("?SCHEDULE_ID=s_1&Api_Key=k&offset_start=10&OFFSET_END=20&pretty=true")]
    [InlineData("?schedule%5Fid=s_1&api%5fkey=k")]
    [InlineData("?schedule_id=a+b%20c%2Bd&api_key=%26%3D")]
    [InlineData("?schedule_id=s_1&utm=1&utm=2&UTM=3")]
    [InlineData("?schedule_id=&api_key")]
    [InlineData("?&&schedule_id=s_1&&=x&=&")]
    [InlineData("?schedule_id=%E2%82%AC%zz%4")]
    [InlineData("?jsonx=1&xjson=2&schedule_id=s_1")]
    [InlineData("?schedule_id=a&%C5%BFchedule_id=b")]
    [InlineData("?schedule_id+=x&api_key=k")]
    [InlineData("?")]
    [InlineData("")]
    public void PlainParametersAreReadAsThePipelineReadsThem(string query)
    {
        var plain = RequestParameters.TryPlain(query);

        Assert.NotNull(plain);
        var pipeline = Pipeline(query);
        foreach (var name in Names)
        {
            Assert.Equal(pipeline[name], plain[name]);
        }
    }

    [Theory]
    [InlineData("?schedule_id=a&schedule_id=b")]
    [InlineData("?schedule_id=a&SCHEDULE_ID=a")]
    [InlineData("?api_key=k&api%5Fkey=k")]
    [InlineData("?schedule_id&schedule_id=a")]
    public void RepeatedParameterIsLeftToThePipelineWhichRefusesIt(string query)
    {
        Assert.Null(RequestParameters.TryPlain(query));
        Assert.Throws<ApiException>(() => Pipeline(query));
    }

    [Theory]
    [InlineData("?json=%7B%22schedule_id%22%3A%22s_1%22%7D")]
    [InlineData("?schedule_id=s_1&JSON=%7B%7D")]
    [InlineData("?schedule_id=s_1&%6Ason=%7B%7D")]
    [InlineData("?schedule_id=s_1&json")]
    public void JsonParameterIsLeftToThePipeline(string query)
    {
        Assert.Null(RequestParameters.TryPlain(query));
    }
}
