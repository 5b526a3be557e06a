// The activation code's binding into the first call's Diffie-Hellman exchange
// (docs/protocol.md §5, "Activation code"): SPAKE2-style blinding (RFC 9382) of
// the SC's share.
//
// The SC sends Y_s* = Y_s * N^w instead of Y_s, where N is a group element
// nobody knows the discrete logarithm of and w is derived from the code's
// verifier H_ac. The chip, holding the code, unblinds Y_s = Y_s* / N^w and
// derives Z from it; anyone else gets a Z that only the code's holder (or the
// holder of the SC's or the chip's ephemeral secret) can compute. All of this
// is public-value arithmetic: the ephemeral secrets and Z stay where they were
// (the token on the SC, the chip's software), so the token's C_GenerateKeyPair
// and C_DeriveKey are used unchanged.
//
// N: for P-256 the N of RFC 9382 §6; for a finite-field group (RFC 7919 or a
// custom safe prime) (SHA-256 expansion of "simkms-spake2-N" | p, as an integer
// mod p)^2 mod p, a square and hence in the order-q subgroup, derived from p
// alone so that anyone can recompute it.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/software_session.h"

namespace simkms::protocol {

// N of the group, in the wire encoding of a public value (len(p) bytes, or 04|X|Y).
[[nodiscard]] StatusOr<Bytes> BlindingElement(const DhGroup& group);

// w = (SHA-256("simkms-spake2-w-v1" | 00 | IMSI8 | VER8 | H_ac) |
//      SHA-256("simkms-spake2-w-v1" | 01 | IMSI8 | VER8 | H_ac)) mod q
// (q the subgroup order; for P-256 the curve order n), big-endian on len(q) bytes.
// H_ac is ActivationVerifier's output: the SC holds it (sealed), the chip
// computes it from the code typed, so neither side needs the code itself here.
[[nodiscard]] StatusOr<SecretBytes> CodeScalar(const DhGroup& group, std::string_view imsi, uint32_t ver,
                                               const SecretBytes& verifier);

// A public value of the group as the exchange accepts it: the range / curve check
// of DhGroup::ValidatePeer, and for a finite-field group membership of the order-q
// subgroup (Jacobi symbol 1, which for a safe prime is exactly that); the
// identity is refused by both.
[[nodiscard]] Status ValidateShare(const DhGroup& group, ByteView value);

// share * N^w. The share is the caller's own (from its key generation).
[[nodiscard]] StatusOr<Bytes> BlindShare(const DhGroup& group, ByteView share, const SecretBytes& w);

// blinded / N^w, for a peer's blinded share: validates the blinded value, then the
// result (InvalidArgument naming which failed).
[[nodiscard]] StatusOr<Bytes> UnblindShare(const DhGroup& group, ByteView blinded, const SecretBytes& w);

}  // namespace simkms::protocol
