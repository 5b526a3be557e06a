#include "sc-engine/protocol/key_schedule.h"

#include <openssl/evp.h>

#include <cstring>

#include "base/secret_array.h"
#include "softcrypto/derivation_data.h"

namespace simkms::protocol {
namespace {

void Append(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }
void Append(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }
void AppendLen16(Bytes& out, std::size_t n) {
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n));
}

StatusOr<std::array<uint8_t, 32>> Sha256(ByteView data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    return InternalError("SHA-256 failed");
  }
  return out;
}

}  // namespace

StatusOr<TranscriptHash> HashTranscript(const Transcript& t) {
  SIMKMS_ASSIGN_OR_RETURN(auto imsi8, kms::PackImsi(t.imsi));
  Bytes in;
  Append(in, "simkms-first-call-v2");
  in.push_back(static_cast<uint8_t>(t.kind));
  Append(in, imsi8);
  for (int i = 0; i < 4; ++i) in.push_back(0);
  for (int i = 0; i < 4; ++i) in.push_back(static_cast<uint8_t>(t.ver >> (24 - 8 * i)));
  Append(in, t.nonce_c);
  Append(in, t.nonce_s);
  AppendLen16(in, t.y_c.size());
  Append(in, t.y_c);
  AppendLen16(in, t.y_s.size());
  Append(in, t.y_s);
  Append(in, t.rand);
  Append(in, t.session_id);
  for (uint64_t counter : {t.hello_counter, t.challenge_counter}) {
    for (int i = 4; i >= 0; --i) in.push_back(static_cast<uint8_t>(counter >> (8 * i)));
  }
  in.push_back(t.code_bound ? 1 : 0);
  return Sha256(in);
}

KeyBlock SessionKeyBlock(const TranscriptHash& t, SessionKeyLabel label) {
  KeyBlock b{};
  std::memcpy(b.data(), t.data(), 12);
  b[15] = static_cast<uint8_t>(label);
  return b;
}

KeyBlock OtaKeyBlock(OtaKeyLabel label) {
  KeyBlock b{'S', 'K', 'O', 'T', static_cast<uint8_t>(label)};
  b[15] = 0x01;
  return b;
}

StatusOr<SecretBytes> ActivationVerifier(std::string_view imsi, std::string_view code) {
  if (code.size() < 6 || code.size() > 16) return InvalidArgumentError("activation code must have 6..16 digits");
  for (char c : code) {
    if (c < '0' || c > '9') return InvalidArgumentError("activation code must be digits only");
  }
  SIMKMS_ASSIGN_OR_RETURN(auto imsi8, kms::PackImsi(imsi));
  SecretBytes in(0);
  Bytes prefix;
  Append(prefix, "simkms-activation-v1");
  Append(prefix, imsi8);
  in.resize(prefix.size() + code.size());
  std::memcpy(in.mutable_data(), prefix.data(), prefix.size());
  std::memcpy(in.mutable_data() + prefix.size(), code.data(), code.size());
  SIMKMS_ASSIGN_OR_RETURN(auto digest, Sha256(in.reveal()));
  return SecretArray<32>::Take(digest).ToSecretBytes();
}

Bytes CommitMacInput(const SessionId& session_id) {
  Bytes in;
  Append(in, "COMMIT");
  Append(in, session_id);
  return in;
}

Bytes ResyncMacInput(const Nonce& nonce_c) {
  Bytes in;
  Append(in, "RESYNC");
  Append(in, nonce_c);
  return in;
}

Bytes ActivationMacInput(const TranscriptHash& t, const SecretBytes& verifier) {
  Bytes in;
  Append(in, "ACTIVATE");
  Append(in, t);
  Append(in, verifier.reveal());
  return in;
}

std::string PukDigits(ByteView puk_block) {
  std::string digits;
  for (std::size_t i = 0; i < 8 && i < puk_block.size(); ++i) digits.push_back(static_cast<char>('0' + puk_block[i] % 10));
  return digits;
}

}  // namespace simkms::protocol
