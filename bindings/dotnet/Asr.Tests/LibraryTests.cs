using System;
using System.Linq;
using System.Text;
using Xunit;

namespace Asr.Tests
{
    public sealed class LibraryTests
    {
        [Fact]
        public void VersionMatchesTheHeaderTheBindingWasWrittenFor()
        {
            Assert.Equal(AsrLibrary.BindingVersionNumber, AsrLibrary.VersionNumber);
            Assert.Equal("0.1.0", AsrLibrary.VersionString);
            Assert.Equal(new Version(0, 1, 0), AsrLibrary.Version);
        }

        [Fact]
        public void StatusCodeValuesAndNamesMatchTheCApi()
        {
            AsrStatusCode[] codes = Enum.GetValues<AsrStatusCode>();
            Assert.Equal(Enumerable.Range(0, 17), codes.Select(c => (int)c));
            foreach (AsrStatusCode code in codes)
            {
                Assert.Equal(UpperSnake(code.ToString()), AsrLibrary.StatusName(code));
            }

            Assert.Equal("UNKNOWN_CODE", AsrLibrary.StatusName((AsrStatusCode)99));
        }

        [Theory]
        [InlineData(AsrStatusCode.InvalidArgument, typeof(AsrInvalidArgumentException))]
        [InlineData(AsrStatusCode.NotFound, typeof(AsrNotFoundException))]
        [InlineData(AsrStatusCode.AlreadyExists, typeof(AsrAlreadyExistsException))]
        [InlineData(AsrStatusCode.PermissionDenied, typeof(AsrPermissionDeniedException))]
        [InlineData(AsrStatusCode.FailedPrecondition, typeof(AsrFailedPreconditionException))]
        [InlineData(AsrStatusCode.Unavailable, typeof(AsrUnavailableException))]
        [InlineData(AsrStatusCode.DataLoss, typeof(AsrDataLossException))]
        [InlineData(AsrStatusCode.Unauthenticated, typeof(AsrUnauthenticatedException))]
        [InlineData(AsrStatusCode.Internal, typeof(AsrException))]
        [InlineData(AsrStatusCode.Unimplemented, typeof(AsrException))]
        public void StatusCodesMapToExceptionTypes(AsrStatusCode code, Type expected)
        {
            AsrException e = AsrException.Create(code, "message");
            Assert.IsType(expected, e);
            Assert.Equal(code, e.StatusCode);
            Assert.Equal("message", e.Message);
        }

        [Fact]
        public void Utf8MarshallingAddsOneTrailingNul()
        {
            byte[] bytes = Native.Utf8("é☁", "value");
            Assert.Equal(new byte[] { 0xC3, 0xA9, 0xE2, 0x98, 0x81, 0 }, bytes);
            Assert.Throws<ArgumentException>("value", () => Native.Utf8("\uD800", "value"));
        }

        private static string UpperSnake(string pascal)
        {
            var sb = new StringBuilder();
            foreach (char ch in pascal)
            {
                if (char.IsUpper(ch) && sb.Length > 0)
                {
                    sb.Append('_');
                }

                sb.Append(char.ToUpperInvariant(ch));
            }

            return sb.ToString();
        }
    }
}
