using BookShelf.Gateway.Accounts;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Time.Testing;

namespace BookShelf.Gateway.Tests;

/// <summary>The gateway's memory of genuine tokens: it saves the decryption, never the checks a token must pass.</summary>
public sealed class TokenReaderTests
{
    private readonly CountingProtector _protector = new(new EphemeralDataProtectionProvider().CreateProtector("tests").ToTimeLimitedDataProtector());
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TokenReader _reader;

    public TokenReaderTests() => _reader = new TokenReader(_protector, _time);

    [Fact]
    public void AGenuineTokenIsDecryptedOnceAndReadTheSameUntilItExpires()
    {
        var token = _protector.Protect("alice\nS1", _time.GetUtcNow() + TimeSpan.FromMinutes(10));

        Assert.Equal(("alice", "S1"), _reader.Read(token));
        Assert.Equal(("alice", "S1"), _reader.Read(token));
        Assert.Equal(1, _protector.Unprotects);

        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.Null(_reader.Read(token));
        Assert.Null(_reader.Read(token));
        Assert.Equal(0, _reader.Count);
    }

    [Fact]
    public void ForgedMalformedAndAlteredTokensAreRefusedEveryTimeAndNeverRemembered()
    {
        var token = _protector.Protect("alice\nS1", _time.GetUtcNow() + TimeSpan.FromMinutes(10));
        var altered = token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1];
        var noSession = _protector.Protect("alice", _time.GetUtcNow() + TimeSpan.FromMinutes(10));
        string[] bad = [altered, "not-a-token", "", noSession, new EphemeralDataProtectionProvider().CreateProtector("tests").ToTimeLimitedDataProtector().Protect("alice\nS1", TimeSpan.FromMinutes(10))];

        foreach (var candidate in bad)
        {
            Assert.Null(_reader.Read(candidate));
        }

        // The second round decrypts exactly what the first did: nothing was remembered.
        var firstRound = _protector.Unprotects;
        Assert.True(firstRound >= 3, $"{firstRound} decryptions");
        foreach (var candidate in bad)
        {
            Assert.Null(_reader.Read(candidate));
        }

        Assert.Equal(0, _reader.Count);
        Assert.Equal(2 * firstRound, _protector.Unprotects);
    }

    [Fact]
    public void ManyTokensStayWithinTheBoundAndEachStillReadsRight()
    {
        var expires = _time.GetUtcNow() + TimeSpan.FromMinutes(10);
        var tokens = Enumerable.Range(0, TokenReader.MaxEntries + 500).Select(i => (User: $"u{i}", Token: _protector.Protect($"u{i}\nS{i}", expires))).ToList();

        foreach (var (user, token) in tokens)
        {
            Assert.Equal(user, _reader.Read(token)?.User);
            Assert.True(_reader.Count <= TokenReader.MaxEntries, $"{_reader.Count} tokens remembered");
        }

        Assert.Equal(500, _reader.Count);
        Assert.Equal("u0", _reader.Read(tokens[0].Token)?.User);
    }

    [Fact]
    public void AGenuineTokenWithSpacesOrPaddingAddedIsRefusedAndNotRemembered()
    {
        var token = _protector.Protect("alice\nS1", _time.GetUtcNow() + TimeSpan.FromMinutes(10));
        string[] variants = [token[..10] + " " + token[10..], token[..10] + "\t" + token[10..], token + "=", token + new string(' ', 2000).Replace(" ", "A", StringComparison.Ordinal)];

        foreach (var variant in variants)
        {
            Assert.Null(_reader.Read(variant));
        }

        Assert.Equal(0, _reader.Count);
        Assert.Equal(("alice", "S1"), _reader.Read(token));
    }

    /// <summary>A real time-limited protector that counts how often a token is decrypted.</summary>
    private sealed class CountingProtector(ITimeLimitedDataProtector inner) : ITimeLimitedDataProtector
    {
        public int Unprotects { get; private set; }

        public IDataProtector CreateProtector(string purpose) => inner.CreateProtector(purpose);

        public byte[] Protect(byte[] plaintext, DateTimeOffset expiration) => inner.Protect(plaintext, expiration);

        public byte[] Unprotect(byte[] protectedData, out DateTimeOffset expiration)
        {
            Unprotects++;
            return inner.Unprotect(protectedData, out expiration);
        }

        public byte[] Protect(byte[] plaintext) => inner.Protect(plaintext);

        public byte[] Unprotect(byte[] protectedData)
        {
            Unprotects++;
            return inner.Unprotect(protectedData);
        }

        ITimeLimitedDataProtector ITimeLimitedDataProtector.CreateProtector(string purpose) => inner.CreateProtector(purpose);
    }
}
