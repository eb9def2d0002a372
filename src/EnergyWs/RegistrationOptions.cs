using Microsoft.Extensions.Options;

namespace EnergyWs;

/// <summary>
/// Options a registration decision needs before the container exists (whether to start the
/// embedded broker, which services to add). Bound from the same section, and checked by the same
/// validator, as the <c>IOptions</c> the services get, so a decision never disagrees with what the
/// services see. The binding generator needs the concrete type, so each call site writes its
/// binding (<c>section.Get&lt;T&gt;()</c>) and passes it in.
/// </summary>
/// <remarks>
/// A null result needs no handling beyond a safe default: the same binding and validator run again
/// at start (ValidateOnStart) and stop startup with one line naming the setting, so a decision
/// taken on null never serves anyone.
/// </remarks>
internal static class RegistrationOptions
{
    /// <summary>The bound options (defaults when the section is absent), or null when a value does not convert.</summary>
    public static T? Bound<T>(Func<T?> bind)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(bind);
        try
        {
            return bind() ?? new T();
        }
        catch (InvalidOperationException)
        {
            // A value that does not convert (e.g. "yes" for a bool): the start-time binding names it.
            return null;
        }
    }

    /// <summary>The bound options, or null when they do not bind or do not validate.</summary>
    public static T? Validated<T>(Func<T?> bind, IValidateOptions<T> validator)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(validator);
        return Bound(bind) is { } options && validator.Validate(Options.DefaultName, options).Succeeded ? options : null;
    }
}
