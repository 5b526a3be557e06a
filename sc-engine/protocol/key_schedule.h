// The public inputs of the first-call key schedule (docs/protocol.md §2 and §5):
// the transcript hash T, the derivation blocks fed to AES under K_z or the base
// key, the MAC inputs and the PUK digits. Both the chip (software) and the SC
// (token: CKM_AES_ECB_ENCRYPT_DATA over these blocks) use them, so they live in
// one place.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/messages.h"

namespace simkms::protocol {

using TranscriptHash = std::array<uint8_t, 32>;
using KeyBlock = std::array<uint8_t, 16>;

struct Transcript {
  SessionKind kind = SessionKind::kFirstCall;
  std::string imsi;  // 6..15 digits
  uint32_t ver = 0;
  Nonce nonce_c{};
  Nonce nonce_s{};
  ByteView y_c;
  ByteView y_s;
  Rand rand{};
  SessionId session_id{};
  uint64_t hello_counter = 0;      // CNTR of the HELLO
  uint64_t challenge_counter = 0;  // CNTR of the CHALLENGE
  bool code_bound = false;         // y_s is blinded by the activation code (code_blinding.h)
};

// T = SHA-256("simkms-first-call-v2" | kind | IMSI8 | VER8 | nonce_c | nonce_s |
//             len16(Y_c) | Y_c | len16(Y_s) | Y_s | RAND | session id |
//             CNTR5(HELLO) | CNTR5(CHALLENGE) | code_bound (1))
// Y_s as sent: blinded when code_bound.
StatusOr<TranscriptHash> HashTranscript(const Transcript& t);

// Labels of the blocks AES-encrypted under K_z.
// (0x03 is reserved: it was a K_z-derived confirmation key.)
enum class SessionKeyLabel : uint8_t { kKi2 = 0x01, kPuk = 0x02, kActivation = 0x04 };
// C(l) = T[0..11] | 00 00 00 | l
KeyBlock SessionKeyBlock(const TranscriptHash& t, SessionKeyLabel label);

// Labels of the OTA keys derived from the base key (Ki_1 or the current Ki_2).
// kConfirm is derived from a Ki_2 (not from Ki_1): the key of the COMMIT MAC and
// the resync proof, which the SC can recompute from the stored Ki_2 at any time.
enum class OtaKeyLabel : uint8_t { kEncUp = 0x01, kMacUp = 0x02, kEncDown = 0x03, kMacDown = 0x04, kConfirm = 0x05 };
// "SKOT" | label | 00 x 10 | 01
KeyBlock OtaKeyBlock(OtaKeyLabel label);

// H_ac = SHA-256("simkms-activation-v1" | IMSI8 | code digits); the code is 6..16 digits.
StatusOr<SecretBytes> ActivationVerifier(std::string_view imsi, std::string_view code);

// The MAC inputs (each MAC is the first 8 bytes of an AES-CMAC).
Bytes CommitMacInput(const SessionId& session_id);             // "COMMIT" | session id
Bytes ResyncMacInput(const Nonce& nonce_c);                    // "RESYNC" | nonce_c
Bytes ActivationMacInput(const TranscriptHash& t, const SecretBytes& verifier);  // "ACTIVATE" | T | H_ac

// 8 decimal digits from the first 8 bytes of the PUK block (each byte mod 10).
std::string PukDigits(ByteView puk_block);

}  // namespace simkms::protocol
