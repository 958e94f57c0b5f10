using System.Reflection;
using System.Text.Json.Serialization;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace QueryStatus.Api.OpenApi;

/// <summary>
/// A type that carries a <see cref="JsonConverterAttribute"/> of its own is written by that converter, so its
/// members say nothing about its JSON (a raw JSON value kept as <c>ReadOnlyMemory&lt;byte&gt;</c> would otherwise be
/// documented as an object of <c>ByteReadOnlyMemory</c> and <c>ByteReadOnlySpan</c>): it is documented as what the
/// generator can truthfully say, any JSON value (<c>{}</c>, inline). Enums keep their usual schema. Everything else
/// goes to Swashbuckle's own resolver.
/// </summary>
public sealed class OwnConverterDataContractResolver(ISerializerDataContractResolver inner) : ISerializerDataContractResolver
{
    public DataContract GetDataContractForType(Type type)
    {
        var effectiveType = Nullable.GetUnderlyingType(type) ?? type;
        return !effectiveType.IsEnum && effectiveType.GetCustomAttribute<JsonConverterAttribute>(inherit: false) is not null
            ? DataContract.ForDynamic(effectiveType)
            : inner.GetDataContractForType(type);
    }
}
