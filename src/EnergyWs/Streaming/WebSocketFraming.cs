using System.Buffers.Binary;

namespace EnergyWs.Streaming;

/// <summary>Server-to-client WebSocket frame headers (RFC 6455 §5.2): unmasked, final, text.</summary>
internal static class WebSocketFraming
{
    /// <summary>The longest header: 2 bytes plus a 64-bit length.</summary>
    public const int MaxHeaderBytes = 10;

    private const byte FinalText = 0x81;

    /// <summary>Writes the header of a single-frame text message; returns its length.</summary>
    public static int WriteTextHeader(Span<byte> destination, int payloadLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        destination[0] = FinalText;
        if (payloadLength <= 125)
        {
            destination[1] = (byte)payloadLength;
            return 2;
        }

        if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            return 4;
        }

        destination[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
        return 10;
    }
}
