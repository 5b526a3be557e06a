/* Ceremony-token / runtime-token experiments against SoftHSM 2.6.1.
 * Build: gcc -O0 -Wall -I/usr/include/p11-kit-1 -o /tmp/ctt ceremony-token-test.c -ldl
 * Run:   see run-ceremony-token-test.sh (creates temp SOFTHSM2_CONF, two tokens). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST_PTR f;
static CK_BBOOL T = CK_TRUE, F = CK_FALSE;
static CK_OBJECT_CLASS cSec = CKO_SECRET_KEY, cPub = CKO_PUBLIC_KEY, cPriv = CKO_PRIVATE_KEY;
static CK_KEY_TYPE kAES = CKK_AES, kGEN = CKK_GENERIC_SECRET, kDES = CKK_DES, kRSA = CKK_RSA;
static CK_ULONG len16 = 16, len32 = 32;
static CK_RV rv;

static const char *rvs(CK_RV rv) {
  switch (rv) {
#define R(x) case x: return #x;
  R(CKR_OK) R(CKR_ATTRIBUTE_READ_ONLY) R(CKR_ATTRIBUTE_TYPE_INVALID) R(CKR_ATTRIBUTE_VALUE_INVALID)
  R(CKR_ACTION_PROHIBITED) R(CKR_TEMPLATE_INCONSISTENT) R(CKR_TEMPLATE_INCOMPLETE) R(CKR_MECHANISM_INVALID)
  R(CKR_GENERAL_ERROR) R(CKR_FUNCTION_FAILED) R(CKR_OBJECT_HANDLE_INVALID) R(CKR_KEY_HANDLE_INVALID)
  R(CKR_KEY_FUNCTION_NOT_PERMITTED) R(CKR_KEY_NOT_WRAPPABLE) R(CKR_KEY_UNEXTRACTABLE) R(CKR_USER_NOT_LOGGED_IN)
  R(CKR_UNWRAPPING_KEY_HANDLE_INVALID) R(CKR_WRAPPING_KEY_HANDLE_INVALID) R(CKR_KEY_TYPE_INCONSISTENT)
  R(CKR_MECHANISM_PARAM_INVALID) R(CKR_ARGUMENTS_BAD) R(CKR_WRAPPED_KEY_INVALID) R(CKR_SESSION_HANDLE_INVALID)
  R(CKR_ATTRIBUTE_SENSITIVE) R(CKR_KEY_SIZE_RANGE) R(CKR_DATA_LEN_RANGE) R(CKR_ENCRYPTED_DATA_INVALID)
#undef R
  default: { static char b[32]; snprintf(b, sizeof b, "0x%lx", rv); return b; }
  }
}
#define CHK(label, call) do { rv = (call); printf("  %-62s -> %s\n", label, rvs(rv)); } while (0)
#define A(t, v) {t, &(v), sizeof(v)}

static CK_SLOT_ID slot_by_label(const char *lbl) {
  CK_SLOT_ID s[16]; CK_ULONG n = 16; f->C_GetSlotList(CK_TRUE, s, &n);
  for (CK_ULONG i = 0; i < n; i++) { CK_TOKEN_INFO ti; f->C_GetTokenInfo(s[i], &ti);
    if (!strncmp((char *)ti.label, lbl, strlen(lbl)) && ti.label[strlen(lbl)] == ' ') return s[i]; }
  fprintf(stderr, "no token %s\n", lbl); exit(1);
}
static CK_SESSION_HANDLE open_login(CK_SLOT_ID s) {
  CK_SESSION_HANDLE h; f->C_OpenSession(s, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
  CK_RV rv = f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4); if (rv) { printf("login %s\n", rvs(rv)); exit(1); }
  return h;
}
static void show_bools(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o) {
  CK_ATTRIBUTE_TYPE t[] = {CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE, CKA_SENSITIVE,
    CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL, CKA_DERIVE, CKA_ENCRYPT, CKA_SIGN, CKA_WRAP, CKA_UNWRAP};
  const char *n[] = {"TOKEN","PRIVATE","MODIFIABLE","COPYABLE","DESTROYABLE","SENSITIVE","EXTRACTABLE","ALWAYS_SENS",
    "NEVER_EXTR","LOCAL","DERIVE","ENCRYPT","SIGN","WRAP","UNWRAP"};
  printf("    attrs:");
  for (unsigned i = 0; i < sizeof t / sizeof *t; i++) { CK_BBOOL b = 9; CK_ATTRIBUTE a = {t[i], &b, 1};
    f->C_GetAttributeValue(s, o, &a, 1); printf(" %s=%d", n[i], b); }
  CK_ULONG vl = 0; CK_BYTE kcv[8]; CK_ATTRIBUTE a2[] = {{CKA_VALUE_LEN, &vl, sizeof vl}, {CKA_CHECK_VALUE, kcv, sizeof kcv}};
  CK_RV r = f->C_GetAttributeValue(s, o, a2, 2);
  printf(" VALUE_LEN=%lu CHECK_VALUE_len=%ld", vl, (long)a2[1].ulValueLen);
  if (a2[1].ulValueLen == 3) printf("(%02x%02x%02x)", kcv[0], kcv[1], kcv[2]);
  printf(" (%s)\n", rvs(r));
}
/* functional fingerprint: derive E_k(data) as session AES key, read its KCV (derive sets CKA_CHECK_VALUE) */
static void fp(const char *who, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, CK_MECHANISM_TYPE m) {
  CK_BYTE d[16] = "fingerprint-dat"; CK_KEY_DERIVATION_STRING_DATA p = {d, m == CKM_DES_ECB_ENCRYPT_DATA ? 8 : 16};
  CK_MECHANISM mech = {m, &p, sizeof p}; CK_OBJECT_HANDLE o;
  CK_KEY_TYPE kt = m == CKM_DES_ECB_ENCRYPT_DATA ? CKK_DES : CKK_AES;
  CK_ATTRIBUTE tpl[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kt), A(CKA_TOKEN, F), A(CKA_ENCRYPT, T)};
  CK_ATTRIBUTE tplA[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kt), A(CKA_TOKEN, F), A(CKA_ENCRYPT, T), A(CKA_VALUE_LEN, len16)};
  CK_RV r = f->C_DeriveKey(s, &mech, k, kt == CKK_AES ? tplA : tpl, kt == CKK_AES ? 5 : 4, &o);
  CK_BYTE kcv[3] = {0}; CK_ATTRIBUTE a = {CKA_CHECK_VALUE, kcv, 3};
  if (!r) r = f->C_GetAttributeValue(s, o, &a, 1);
  printf("    fingerprint %-22s %s kcv=%02x%02x%02x\n", who, rvs(r), kcv[0], kcv[1], kcv[2]);
}
static void hmac(const char *who, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k) {
  CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0}; CK_BYTE out[32] = {0}; CK_ULONG ol = 32;
  CK_RV r = f->C_SignInit(s, &m, k); if (!r) r = f->C_Sign(s, (CK_BYTE_PTR)"abc", 3, out, &ol);
  printf("    hmac %-29s %s %02x%02x%02x%02x\n", who, rvs(r), out[0], out[1], out[2], out[3]);
}
static CK_OBJECT_HANDLE derive(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE base, const char *data, CK_ATTRIBUTE *t, CK_ULONG n, CK_RV *rv) {
  CK_BYTE d[32] = {0}; memcpy(d, data, strlen(data) < 16 ? strlen(data) : 16);
  CK_KEY_DERIVATION_STRING_DATA p = {d, strncmp(data, "MAC", 3) ? 16 : 32}; /* AES-ECB output len = data len */ CK_MECHANISM m = {CKM_AES_ECB_ENCRYPT_DATA, &p, sizeof p};
  CK_OBJECT_HANDLE o = 0; *rv = f->C_DeriveKey(s, &m, base, t, n, &o); return o;
}

int main(void) {
  void *lib = dlopen("/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW);
  CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
  gfl(&f); f->C_Initialize(NULL);
  CK_SLOT_ID slC = slot_by_label("ceremony"), slR = slot_by_label("runtime");
  CK_SESSION_HANDLE sc = open_login(slC), sr = open_login(slR);
  CK_OBJECT_HANDLE h = 0;
  printf("slots: ceremony=%lu runtime=%lu\n", slC, slR);

  /* ---- ceremony init: MK from (combined) custodian shares via C_CreateObject ---- */
  printf("[0] MK on ceremony token (C_CreateObject, MODIFIABLE=F not last, ALLOWED_MECHANISMS)\n");
  CK_BYTE mkv[32]; for (int i = 0; i < 32; i++) mkv[i] = (CK_BYTE)(0x11 * i + 3);
  CK_MECHANISM_TYPE mkmech[] = {CKM_AES_ECB_ENCRYPT_DATA};
  CK_UTF8CHAR mkl[] = "MK"; CK_BYTE mkid[] = "mk-1";
  CK_ATTRIBUTE mkt[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, T), A(CKA_PRIVATE, T),
    A(CKA_MODIFIABLE, F), {CKA_LABEL, mkl, 2}, {CKA_ID, mkid, 4}, {CKA_VALUE, mkv, 32},
    A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F), A(CKA_DERIVE, T), A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F),
    A(CKA_SIGN, F), A(CKA_VERIFY, F), A(CKA_WRAP, F), A(CKA_UNWRAP, F), A(CKA_COPYABLE, F), A(CKA_DESTROYABLE, F),
    {CKA_ALLOWED_MECHANISMS, mkmech, sizeof mkmech}};
  CK_OBJECT_HANDLE mk = 0; CHK("C_CreateObject MK", f->C_CreateObject(sc, mkt, 20, &mk)); show_bools(sc, mk);
  { CK_BYTE good[3] = {0x6e, 0xca, 0xc5}, bad[3] = {0x6e, 0xca, 0xc6}; /* E_MK(0^16)[0..2] as recorded by custodians */
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, F), A(CKA_MODIFIABLE, F), {CKA_VALUE, mkv, 32},
      A(CKA_DERIVE, T), {CKA_CHECK_VALUE, bad, 3}};
    CHK("C_CreateObject MK-like with wrong CKA_CHECK_VALUE", f->C_CreateObject(sc, t, 7, &h));
    t[6].pValue = good; CHK("C_CreateObject MK-like with custodian KCV", f->C_CreateObject(sc, t, 7, &h)); f->C_DestroyObject(sc, h); }
  { CK_MECHANISM m = {CKM_AES_CBC_ENCRYPT_DATA, NULL, 0}; CK_AES_CBC_ENCRYPT_DATA_PARAMS pp = {{0}, (CK_BYTE_PTR)"0123456789abcdef", 16};
    m.pParameter = &pp; m.ulParameterLen = sizeof pp;
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, F), A(CKA_VALUE_LEN, len16)};
    CHK("derive MK with CKM_AES_CBC_ENCRYPT_DATA (not allowed mech)", f->C_DeriveKey(sc, &m, mk, t, 4, &h)); }

  /* ---- derive templates on ceremony ---- */
  printf("[D] C_DeriveKey (ceremony) K1 AES-128 derive-only\n");
#define K1FINAL(tok, extr) A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_VALUE_LEN, len16), A(CKA_TOKEN, tok), \
    A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, extr), A(CKA_DERIVE, T), A(CKA_ENCRYPT, F), \
    A(CKA_DECRYPT, F), A(CKA_SIGN, F), A(CKA_VERIFY, F), A(CKA_WRAP, F), A(CKA_UNWRAP, F)
  { CK_ATTRIBUTE t[] = {K1FINAL(F, F), A(CKA_COPYABLE, F), A(CKA_MODIFIABLE, F)};
    h = derive(sc, mk, "VER-0001", t, 16, &rv); printf("  %-62s -> %s\n", "derive, COPYABLE=F, MODIFIABLE=F last", rvs(rv)); show_bools(sc, h); }
  { CK_ATTRIBUTE t[] = {A(CKA_MODIFIABLE, F), K1FINAL(F, F)};
    derive(sc, mk, "VER-0001", t, 15, &rv); printf("  %-62s -> %s\n", "derive, MODIFIABLE=F first", rvs(rv)); }
  /* reference K1 on ceremony (derive-capable, for fingerprint compare) + extractable transport copy */
  CK_ATTRIBUTE k1ref[] = {K1FINAL(F, F)}; CK_OBJECT_HANDLE k1c = derive(sc, mk, "VER-0001", k1ref, 14, &rv);
  CK_ATTRIBUTE k1xt[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_VALUE_LEN, len16), A(CKA_TOKEN, F),
    A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, T), A(CKA_DERIVE, F), A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F),
    A(CKA_SIGN, F), A(CKA_VERIFY, F), A(CKA_WRAP, F), A(CKA_UNWRAP, F), A(CKA_COPYABLE, F), A(CKA_MODIFIABLE, F)};
  CK_OBJECT_HANDLE k1x = derive(sc, mk, "VER-0001", k1xt, 16, &rv);
  printf("  %-62s -> %s\n", "derive transport copy K1x (extractable, usage all F)", rvs(rv));
  CK_ATTRIBUTE genxt[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kGEN), A(CKA_VALUE_LEN, len32), A(CKA_TOKEN, F),
    A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, T), A(CKA_SIGN, T), A(CKA_VERIFY, F), A(CKA_MODIFIABLE, F)};
  CK_OBJECT_HANDLE genx = derive(sc, mk, "MAC-KEY", genxt, 9, &rv);
  printf("  %-62s -> %s\n", "derive generic-secret copy (extractable, SIGN for test)", rvs(rv));
  CK_ATTRIBUTE desxt[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kDES), A(CKA_TOKEN, F), A(CKA_SENSITIVE, T),
    A(CKA_EXTRACTABLE, T), A(CKA_DERIVE, T), A(CKA_MODIFIABLE, F)};
  CK_OBJECT_HANDLE desx = derive(sc, mk, "VER-LEGACY", desxt, 7, &rv);
  printf("  %-62s -> %s\n", "derive DES copy (extractable, DERIVE for test)", rvs(rv));

  /* ---- 1a RSA-OAEP transport ---- */
  printf("[1a] RSA-OAEP(SHA-1) transport: key pair on runtime (session objects), pub imported on ceremony\n");
  CK_ULONG bits = 2048; CK_BYTE e3[] = {1, 0, 1};
  CK_ATTRIBUTE pubt[] = {A(CKA_TOKEN, F), A(CKA_WRAP, T), A(CKA_ENCRYPT, F), A(CKA_VERIFY, F), A(CKA_MODULUS_BITS, bits), {CKA_PUBLIC_EXPONENT, e3, 3}};
  CK_ATTRIBUTE privt[] = {A(CKA_TOKEN, F), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F), A(CKA_UNWRAP, T),
    A(CKA_DECRYPT, F), A(CKA_SIGN, F), A(CKA_DERIVE, F), A(CKA_MODIFIABLE, F)};
  CK_MECHANISM gm = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0}; CK_OBJECT_HANDLE pubR, privR;
  CHK("C_GenerateKeyPair on runtime (priv unwrap-only)", f->C_GenerateKeyPair(sr, &gm, pubt, 6, privt, 9, &pubR, &privR));
  CK_BYTE mod[512]; CK_ATTRIBUTE ma[] = {{CKA_MODULUS, mod, sizeof mod}}; f->C_GetAttributeValue(sr, pubR, ma, 1);
  CK_ATTRIBUTE pubc[] = {A(CKA_CLASS, cPub), A(CKA_KEY_TYPE, kRSA), A(CKA_TOKEN, F), {CKA_MODULUS, mod, ma[0].ulValueLen},
    {CKA_PUBLIC_EXPONENT, e3, 3}, A(CKA_WRAP, T), A(CKA_ENCRYPT, F), A(CKA_VERIFY, F)};
  CK_OBJECT_HANDLE pubC; CHK("C_CreateObject pub on ceremony", f->C_CreateObject(sc, pubc, 8, &pubC));
  CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
  CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &op, sizeof op};
  CK_BYTE wK1[512], wG[512], wD[512]; CK_ULONG lK1 = 512, lG = 512, lD = 512;
  CHK("C_WrapKey K1x (AES)", f->C_WrapKey(sc, &oaep, pubC, k1x, wK1, &lK1));
  CHK("C_WrapKey generic secret", f->C_WrapKey(sc, &oaep, pubC, genx, wG, &lG));
  CHK("C_WrapKey DES", f->C_WrapKey(sc, &oaep, pubC, desx, wD, &lD));
  CHK("C_WrapKey K1 ref (EXTRACTABLE=F)", f->C_WrapKey(sc, &oaep, pubC, k1c, wD + 0, &(CK_ULONG){512}));
  CK_UTF8CHAR k1l[] = "K1-VER-0001";
  /* AES unwrap template: identical to K1FINAL but WITHOUT CKA_VALUE_LEN (ck6 for AES in SoftHSM) */
#define K1UNW(tok) A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, tok), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T), \
    A(CKA_EXTRACTABLE, F), A(CKA_DERIVE, T), A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F), A(CKA_SIGN, F), A(CKA_VERIFY, F), \
    A(CKA_WRAP, F), A(CKA_UNWRAP, F)
  { CK_ATTRIBUTE t[] = {K1FINAL(F, F)};
    CHK("unwrap AES session, WITH CKA_VALUE_LEN, no MODIFIABLE", f->C_UnwrapKey(sr, &oaep, privR, wK1, lK1, t, 14, &h)); }
  { CK_ATTRIBUTE t[] = {K1FINAL(T, F), {CKA_LABEL, k1l, 11}, A(CKA_MODIFIABLE, F)};
    CHK("unwrap AES, WITH VALUE_LEN, TOKEN=T, MODIFIABLE=F last", f->C_UnwrapKey(sr, &oaep, privR, wK1, lK1, t, 16, &h)); }
  { CK_ATTRIBUTE t[] = {K1UNW(T), {CKA_LABEL, k1l, 11}, A(CKA_MODIFIABLE, F)};
    CHK("unwrap AES, TOKEN=T, MODIFIABLE=F last", f->C_UnwrapKey(sr, &oaep, privR, wK1, lK1, t, 15, &h)); show_bools(sr, h);
    { CK_ATTRIBUTE c[] = {A(CKA_ENCRYPT, T)}; CHK("  SetAttr(ENCRYPT=T)", f->C_SetAttributeValue(sr, h, c, 1)); }
    fp("ceremony K1", sc, k1c, CKM_AES_ECB_ENCRYPT_DATA); fp("runtime K1 (direct unwrap)", sr, h, CKM_AES_ECB_ENCRYPT_DATA);
    f->C_DestroyObject(sr, h); }
  { CK_ATTRIBUTE t[] = {K1UNW(T), A(CKA_COPYABLE, F), A(CKA_MODIFIABLE, F)};
    CHK("unwrap AES, COPYABLE=F, MODIFIABLE=F last", f->C_UnwrapKey(sr, &oaep, privR, wK1, lK1, t, 15, &h)); show_bools(sr, h);
    { CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T)}; CHK("  C_CopyObject(COPYABLE=F obj)", f->C_CopyObject(sr, h, c, 0, &h)); } }
  { CK_ATTRIBUTE t[] = {A(CKA_MODIFIABLE, F), K1UNW(T)};
    CHK("unwrap AES, MODIFIABLE=F first", f->C_UnwrapKey(sr, &oaep, privR, wK1, lK1, t, 14, &h)); }
  { CK_ATTRIBUTE t[] = {K1UNW(T), A(CKA_MODIFIABLE, F), A(CKA_COPYABLE, F)};
    CHK("unwrap AES, MODIFIABLE=F then COPYABLE=F", f->C_UnwrapKey(sr, &oaep, privR, wK1, lK1, t, 15, &h)); }
  { CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kGEN), A(CKA_TOKEN, T), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T),
      A(CKA_EXTRACTABLE, F), A(CKA_SIGN, T), A(CKA_VERIFY, T), A(CKA_DERIVE, F), A(CKA_ENCRYPT, F), A(CKA_MODIFIABLE, F)};
    CHK("unwrap GENERIC_SECRET, MODIFIABLE=F last", f->C_UnwrapKey(sr, &oaep, privR, wG, lG, t, 11, &h)); show_bools(sr, h);
    hmac("ceremony MAC copy", sc, genx); hmac("runtime MAC key (direct)", sr, h); }
  { CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kGEN), A(CKA_VALUE_LEN, len32), A(CKA_TOKEN, T), A(CKA_SENSITIVE, T),
      A(CKA_EXTRACTABLE, F), A(CKA_SIGN, T), A(CKA_VERIFY, T), A(CKA_MODIFIABLE, F)};
    CHK("unwrap GENERIC_SECRET with VALUE_LEN=32, MODIFIABLE=F last", f->C_UnwrapKey(sr, &oaep, privR, wG, lG, t, 9, &h)); show_bools(sr, h); }
  { CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kDES), A(CKA_TOKEN, T), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T),
      A(CKA_EXTRACTABLE, F), A(CKA_DERIVE, T), A(CKA_ENCRYPT, F), A(CKA_MODIFIABLE, F)};
    CHK("unwrap DES, MODIFIABLE=F last", f->C_UnwrapKey(sr, &oaep, privR, wD, lD, t, 9, &h)); show_bools(sr, h);
    fp("ceremony DES copy", sc, desx, CKM_DES_ECB_ENCRYPT_DATA); fp("runtime DES (direct)", sr, h, CKM_DES_ECB_ENCRYPT_DATA);
    { CK_MECHANISM m = {CKM_DES_ECB, NULL, 0}; CHK("  C_EncryptInit(CKM_DES_ECB) on a DES key", f->C_EncryptInit(sr, &m, h)); } }

  /* ---- 1c session unwrap + C_CopyObject ---- */
  printf("[1c] unwrap into modifiable SESSION object, then C_CopyObject to token\n");
  CK_ATTRIBUTE st[] = {K1UNW(F), {CKA_LABEL, k1l, 11}, {CKA_ALLOWED_MECHANISMS, mkmech, sizeof mkmech}};
  CK_OBJECT_HANDLE s1; CHK("unwrap AES session obj (ALLOWED_MECHANISMS, no MODIFIABLE)", f->C_UnwrapKey(sr, &oaep, privR, wK1, lK1, st, 15, &s1));
  { CK_ATTRIBUTE c[] = {A(CKA_COPYABLE, F)}; CHK("C_SetAttributeValue(session, COPYABLE=F)", f->C_SetAttributeValue(sr, s1, c, 1)); }
  { CK_ATTRIBUTE c[] = {A(CKA_MODIFIABLE, F)}; CHK("C_SetAttributeValue(session, MODIFIABLE=F)", f->C_SetAttributeValue(sr, s1, c, 1)); }
  { CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T), A(CKA_COPYABLE, F), A(CKA_MODIFIABLE, F)};
    CHK("C_CopyObject {TOKEN=T, COPYABLE=F, MODIFIABLE=F}", f->C_CopyObject(sr, s1, c, 3, &h)); }
  { CK_ATTRIBUTE c[] = {A(CKA_MODIFIABLE, F), A(CKA_TOKEN, T)};
    CHK("C_CopyObject {MODIFIABLE=F, TOKEN=T}", f->C_CopyObject(sr, s1, c, 2, &h)); }
  { CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T), A(CKA_DERIVE, F), A(CKA_MODIFIABLE, F)};
    CHK("C_CopyObject {TOKEN=T, DERIVE=F, MODIFIABLE=F} (ck8 attr)", f->C_CopyObject(sr, s1, c, 3, &h)); if (!rv) f->C_DestroyObject(sr, h); }
  CK_BYTE kcv1[3], bad[3] = {1, 2, 3}; CK_ATTRIBUTE ka = {CKA_CHECK_VALUE, kcv1, 3}; f->C_GetAttributeValue(sc, k1c, &ka, 1);
  printf("    ceremony K1 CKA_CHECK_VALUE=%02x%02x%02x\n", kcv1[0], kcv1[1], kcv1[2]);
  { CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T), {CKA_CHECK_VALUE, bad, 3}, A(CKA_MODIFIABLE, F)};
    CHK("C_CopyObject {TOKEN=T, CHECK_VALUE=wrong, MODIFIABLE=F}", f->C_CopyObject(sr, s1, c, 3, &h)); }
  { CK_ATTRIBUTE t[] = {K1UNW(F), {CKA_CHECK_VALUE, kcv1, 3}};
    CHK("direct unwrap with CKA_CHECK_VALUE (no MODIFIABLE)", f->C_UnwrapKey(sr, &oaep, privR, wK1, lK1, t, 14, &h)); }
  { CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T), {CKA_CHECK_VALUE, kcv1, 3}, A(CKA_MODIFIABLE, F)};
    CHK("C_CopyObject {TOKEN=T, CHECK_VALUE=derive-KCV, MODIFIABLE=F}", f->C_CopyObject(sr, s1, c, 3, &h)); }
  /* standard AES KCV = E_K(0^16)[0..2], computed on ceremony with an ENCRYPT-only session twin of K1 */
  CK_BYTE zero[16] = {0}, enc[16]; CK_ULONG el = 16; CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
  { CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_VALUE_LEN, len16), A(CKA_TOKEN, F), A(CKA_SENSITIVE, T),
      A(CKA_EXTRACTABLE, F), A(CKA_ENCRYPT, T), A(CKA_DECRYPT, F), A(CKA_DERIVE, F), A(CKA_MODIFIABLE, F)};
    CK_OBJECT_HANDLE tw = derive(sc, mk, "VER-0001", t, 10, &rv); f->C_EncryptInit(sc, &ecb, tw); f->C_Encrypt(sc, zero, 16, enc, &el);
    f->C_DestroyObject(sc, tw); printf("    ceremony K1 AES KCV E_K(0)=%02x%02x%02x\n", enc[0], enc[1], enc[2]); }
  CK_OBJECT_HANDLE k1r = 0;
  { CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T), {CKA_CHECK_VALUE, enc, 3}, A(CKA_MODIFIABLE, F)};
    CHK("C_CopyObject {TOKEN=T, CHECK_VALUE=AES-KCV, MODIFIABLE=F}", f->C_CopyObject(sr, s1, c, 3, &k1r)); show_bools(sr, k1r); }
  CHK("C_DestroyObject(session obj)", f->C_DestroyObject(sr, s1));
  { CK_UTF8CHAR x[] = "x"; CK_ATTRIBUTE c[] = {{CKA_LABEL, x, 1}}; CHK("SetAttr(copy, LABEL)", f->C_SetAttributeValue(sr, k1r, c, 1)); }
  { CK_ATTRIBUTE c[] = {A(CKA_ENCRYPT, T)}; CHK("SetAttr(copy, ENCRYPT=T)", f->C_SetAttributeValue(sr, k1r, c, 1)); }
  { CK_ATTRIBUTE c[] = {A(CKA_COPYABLE, F)}; CHK("SetAttr(copy, COPYABLE=F)", f->C_SetAttributeValue(sr, k1r, c, 1)); }
  { CK_ATTRIBUTE c[] = {A(CKA_ENCRYPT, T)}; CHK("CopyObject(copy, {ENCRYPT=T})", f->C_CopyObject(sr, k1r, c, 1, &h)); }
  { CK_ATTRIBUTE c[] = {A(CKA_TOKEN, F)}; CHK("CopyObject(copy, {TOKEN=F})", f->C_CopyObject(sr, k1r, c, 1, &h)); }
  { CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T)}; CHK("CopyObject(copy, {} ulCount=0)", f->C_CopyObject(sr, k1r, c, 0, &h));
    show_bools(sr, h); f->C_DestroyObject(sr, h); }
  fp("ceremony K1", sc, k1c, CKM_AES_ECB_ENCRYPT_DATA); fp("runtime K1 (copy)", sr, k1r, CKM_AES_ECB_ENCRYPT_DATA);
  { CK_AES_CBC_ENCRYPT_DATA_PARAMS pp = {{0}, (CK_BYTE_PTR)"0123456789abcdef", 16}; CK_MECHANISM m = {CKM_AES_CBC_ENCRYPT_DATA, &pp, sizeof pp};
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, F), A(CKA_VALUE_LEN, len16)};
    CHK("runtime K1: derive with non-allowed CKM_AES_CBC_ENCRYPT_DATA", f->C_DeriveKey(sr, &m, k1r, t, 4, &h)); }
  { CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kGEN), A(CKA_TOKEN, F), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T),
      A(CKA_EXTRACTABLE, F), A(CKA_SIGN, T), A(CKA_VERIFY, T), A(CKA_DERIVE, F), A(CKA_ENCRYPT, F)};
    CK_BYTE kg[3]; CK_ATTRIBUTE kga = {CKA_CHECK_VALUE, kg, 3}; f->C_GetAttributeValue(sc, genx, &kga, 1);
    CK_OBJECT_HANDLE gs, gr = 0; CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T), {CKA_CHECK_VALUE, kg, 3}, A(CKA_MODIFIABLE, F)};
    CHK("unwrap GENERIC session", f->C_UnwrapKey(sr, &oaep, privR, wG, lG, t, 10, &gs));
    CHK("  -> C_CopyObject {TOKEN=T, CHECK_VALUE=kcv, MODIFIABLE=F}", f->C_CopyObject(sr, gs, c, 3, &gr)); f->C_DestroyObject(sr, gs);
    hmac("ceremony MAC copy", sc, genx); hmac("runtime MAC key", sr, gr); show_bools(sr, gr); }
  { CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kDES), A(CKA_TOKEN, F), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T),
      A(CKA_EXTRACTABLE, F), A(CKA_DERIVE, T), A(CKA_ENCRYPT, F)};
    CK_BYTE dz[8] = {0}, de[8] = {0}; CK_ULONG dl = 8; CK_MECHANISM dm = {CKM_DES_ECB, NULL, 0};
    CK_ATTRIBUTE tw[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kDES), A(CKA_TOKEN, F), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F),
      A(CKA_ENCRYPT, T), A(CKA_MODIFIABLE, F)};
    CK_OBJECT_HANDLE dtw = derive(sc, mk, "VER-LEGACY", tw, 7, &rv); CHK("  ceremony DES twin: C_EncryptInit DES_ECB", f->C_EncryptInit(sc, &dm, dtw));
    if (!rv) { f->C_Encrypt(sc, dz, 8, de, &dl); }
    printf("    ceremony DES KCV E_K(0)=%02x%02x%02x\n", de[0], de[1], de[2]);
    CK_OBJECT_HANDLE ds, dr = 0; CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T), {CKA_CHECK_VALUE, de, 3}, A(CKA_MODIFIABLE, F)};
    CHK("unwrap DES session", f->C_UnwrapKey(sr, &oaep, privR, wD, lD, t, 8, &ds));
    CHK("  -> C_CopyObject {TOKEN=T, CHECK_VALUE=DES-KCV, MODIFIABLE=F}", f->C_CopyObject(sr, ds, c, 3, &dr)); f->C_DestroyObject(sr, ds);
    fp("ceremony DES copy", sc, desx, CKM_DES_ECB_ENCRYPT_DATA); fp("runtime DES", sr, dr, CKM_DES_ECB_ENCRYPT_DATA); }

  /* ---- 1b AES key wrap ---- */
  printf("[1b] AES_KEY_WRAP(_PAD) with a transport KEK\n");
  { CK_ATTRIBUTE kt[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_VALUE_LEN, len32), A(CKA_TOKEN, F), A(CKA_SENSITIVE, T),
      A(CKA_EXTRACTABLE, T), A(CKA_WRAP, F), A(CKA_UNWRAP, T), A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F)};
    CK_MECHANISM g = {CKM_AES_KEY_GEN, NULL, 0}; CK_OBJECT_HANDLE tkR, tkC; CK_BYTE w[512]; CK_ULONG wl = 512; (void)kt;
    /* transport KEK generated on ceremony, carried to runtime under the runtime RSA-OAEP key */
    CK_ATTRIBUTE kc[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_VALUE_LEN, len32), A(CKA_TOKEN, F), A(CKA_SENSITIVE, T),
      A(CKA_EXTRACTABLE, T), A(CKA_WRAP, T), A(CKA_UNWRAP, F), A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F)};
    CHK("generate KEK on ceremony, wrap it to runtime with RSA-OAEP", f->C_GenerateKey(sc, &g, kc, 10, &tkC));
    wl = 512; CHK("  C_WrapKey(ceremony, OAEP, pubC, KEK)", f->C_WrapKey(sc, &oaep, pubC, tkC, w, &wl));
    CK_ATTRIBUTE rt[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, F), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F),
      A(CKA_WRAP, F), A(CKA_UNWRAP, T), A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F)};
    CHK("  C_UnwrapKey(runtime, OAEP, privR) -> KEK session", f->C_UnwrapKey(sr, &oaep, privR, w, wl, rt, 9, &tkR));
    CK_MECHANISM mw[2] = {{CKM_AES_KEY_WRAP, NULL, 0}, {CKM_AES_KEY_WRAP_PAD, NULL, 0}};
    for (int i = 0; i < 2; i++) {
      printf("  -- %s\n", i ? "CKM_AES_KEY_WRAP_PAD" : "CKM_AES_KEY_WRAP");
      wl = 512; CHK("  C_WrapKey K1x", f->C_WrapKey(sc, &mw[i], tkC, k1x, w, &wl));
      CK_ATTRIBUTE t[] = {K1UNW(T), A(CKA_MODIFIABLE, F)};
      CHK("  unwrap AES TOKEN=T MODIFIABLE=F last", f->C_UnwrapKey(sr, &mw[i], tkR, w, wl, t, 14, &h));
      fp("runtime K1 direct AESKW", sr, h, CKM_AES_ECB_ENCRYPT_DATA); f->C_DestroyObject(sr, h);
      CK_ATTRIBUTE t2[] = {K1UNW(F)}; CK_OBJECT_HANDLE s2, c2; CK_ATTRIBUTE c[] = {A(CKA_TOKEN, T), A(CKA_MODIFIABLE, F)};
      CHK("  unwrap AES session + CopyObject{TOKEN=T,MODIFIABLE=F}", f->C_UnwrapKey(sr, &mw[i], tkR, w, wl, t2, 13, &s2));
      CHK("    C_CopyObject", f->C_CopyObject(sr, s2, c, 2, &c2)); fp("runtime K1 via AESKW", sr, c2, CKM_AES_ECB_ENCRYPT_DATA);
      f->C_DestroyObject(sr, s2); f->C_DestroyObject(sr, c2);
      wl = 512; CHK("  C_WrapKey generic secret", f->C_WrapKey(sc, &mw[i], tkC, genx, w, &wl));
      CK_ATTRIBUTE tg[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kGEN), A(CKA_TOKEN, T), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F),
        A(CKA_SIGN, T), A(CKA_VERIFY, T), A(CKA_MODIFIABLE, F)};
      CHK("  unwrap GENERIC TOKEN=T MODIFIABLE=F last", f->C_UnwrapKey(sr, &mw[i], tkR, w, wl, tg, 8, &h));
      wl = 512; CHK("  C_WrapKey DES", f->C_WrapKey(sc, &mw[i], tkC, desx, w, &wl));
      CK_ATTRIBUTE td[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kDES), A(CKA_TOKEN, T), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F),
        A(CKA_DERIVE, T), A(CKA_MODIFIABLE, F)};
      CHK("  unwrap DES TOKEN=T MODIFIABLE=F last", f->C_UnwrapKey(sr, &mw[i], tkR, w, wl, td, 7, &h));
    }
  }

  /* ---- 1d derive-based identity ---- */
  printf("[1d] derive mechanisms for value-preserving copy on runtime\n");
  { CK_BYTE z[16] = {0}; CK_KEY_DERIVATION_STRING_DATA p = {z, 16};
    CK_MECHANISM_TYPE ms[] = {CKM_CONCATENATE_BASE_AND_DATA, CKM_XOR_BASE_AND_DATA, CKM_CONCATENATE_BASE_AND_KEY, CKM_EXTRACT_KEY_FROM_KEY};
    const char *mn[] = {"CKM_CONCATENATE_BASE_AND_DATA", "CKM_XOR_BASE_AND_DATA", "CKM_CONCATENATE_BASE_AND_KEY", "CKM_EXTRACT_KEY_FROM_KEY"};
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, F), A(CKA_VALUE_LEN, len16)};
    for (int i = 0; i < 4; i++) { CK_MECHANISM m = {ms[i], &p, sizeof p}; char b[80]; snprintf(b, 80, "C_DeriveKey %s", mn[i]);
      CHK(b, f->C_DeriveKey(sr, &m, k1r, t, 4, &h)); }
    CK_MECHANISM_TYPE ml[128]; CK_ULONG n = 128; f->C_GetMechanismList(slR, ml, &n); printf("    derive-capable mechs:");
    for (CK_ULONG i = 0; i < n; i++) { CK_MECHANISM_INFO mi; f->C_GetMechanismInfo(slR, ml[i], &mi); if (mi.flags & CKF_DERIVE) printf(" 0x%lx", ml[i]); }
    printf("\n"); }

  /* ---- 2 cross-slot ---- */
  printf("[2] cross-slot handle use (session on runtime, object on ceremony)\n");
  { CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_VALUE_LEN, len16), A(CKA_TOKEN, F), A(CKA_DERIVE, T)};
    derive(sr, mk, "VER-0001", t, 5, &rv); printf("  %-62s -> %s\n", "C_DeriveKey(sr, base=MK on ceremony, PRIVATE token obj)", rvs(rv));
    derive(sr, k1c, "VER-0001", t, 5, &rv); printf("  %-62s -> %s\n", "C_DeriveKey(sr, base=K1 ceremony session obj, PRIVATE)", rvs(rv));
    CK_BYTE v[16] = "public-key-val!"; CK_ATTRIBUTE pt[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, F), A(CKA_PRIVATE, F),
      {CKA_VALUE, v, 16}, A(CKA_DERIVE, T)}; CK_OBJECT_HANDLE pk;
    f->C_CreateObject(sc, pt, 6, &pk);
    CK_OBJECT_HANDLE dd = derive(sr, pk, "VER-0001", t, 5, &rv);
    printf("  %-62s -> %s\n", "C_DeriveKey(sr, base=ceremony PRIVATE=F session key)", rvs(rv));
    if (!rv) { CK_SESSION_INFO si; CK_ULONG cnt; f->C_GetSessionInfo(sr, &si);
      printf("    new key handle %lu created in runtime session (slot %lu)\n", dd, si.slotID); (void)cnt; }
    CK_BYTE w[512]; CK_ULONG wl = 512;
    CHK("C_WrapKey(sc, OAEP, wrapping key=pubR on runtime, K1x)", f->C_WrapKey(sc, &oaep, pubR, k1x, w, &wl));
    wl = 512; CHK("C_WrapKey(sr, OAEP, pubR, key=K1x on ceremony)", f->C_WrapKey(sr, &oaep, pubR, k1x, w, &wl)); }

  /* ---- 3 DERIVE_TEMPLATE / UNWRAP_TEMPLATE ---- */
  printf("[3] CKA_DERIVE_TEMPLATE / CKA_UNWRAP_TEMPLATE\n");
  { CK_ATTRIBUTE dt[] = {A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F)};
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_VALUE_LEN, len32), A(CKA_TOKEN, F), A(CKA_DERIVE, T),
      {CKA_DERIVE_TEMPLATE, dt, sizeof dt}}; CK_MECHANISM g = {CKM_AES_KEY_GEN, NULL, 0};
    CHK("C_GenerateKey AES with CKA_DERIVE_TEMPLATE", f->C_GenerateKey(sc, &g, t, 6, &h));
    CK_ATTRIBUTE t2[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), {CKA_VALUE, mkv, 32}, A(CKA_TOKEN, F), A(CKA_DERIVE, T),
      {CKA_DERIVE_TEMPLATE, dt, sizeof dt}};
    CHK("C_CreateObject AES with CKA_DERIVE_TEMPLATE", f->C_CreateObject(sc, t2, 6, &h));
    CK_ATTRIBUTE ut[] = {A(CKA_TOKEN, T), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F), A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F), A(CKA_MODIFIABLE, F)};
    CK_ATTRIBUTE pv[] = {A(CKA_TOKEN, F), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, F), A(CKA_UNWRAP, T),
      A(CKA_DECRYPT, F), A(CKA_SIGN, F), {CKA_UNWRAP_TEMPLATE, ut, sizeof ut}, A(CKA_MODIFIABLE, F)};
    CK_OBJECT_HANDLE pub2, priv2; CK_BYTE w[512]; CK_ULONG wl = 512;
    CHK("C_GenerateKeyPair priv with CKA_UNWRAP_TEMPLATE", f->C_GenerateKeyPair(sr, &gm, pubt, 6, pv, 9, &pub2, &priv2));
    f->C_GetAttributeValue(sr, pub2, ma, 1); pubc[3].ulValueLen = ma[0].ulValueLen; CK_OBJECT_HANDLE pubC2;
    f->C_CreateObject(sc, pubc, 8, &pubC2); f->C_WrapKey(sc, &oaep, pubC2, k1x, w, &wl);
    { CK_ATTRIBUTE t3[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, F), A(CKA_DERIVE, T)};
      CHK("  unwrap with template lacking the UNWRAP_TEMPLATE attrs", f->C_UnwrapKey(sr, &oaep, priv2, w, wl, t3, 4, &h)); }
    { CK_ATTRIBUTE t3[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, T), A(CKA_SENSITIVE, T), A(CKA_EXTRACTABLE, T),
        A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F), A(CKA_DERIVE, T), A(CKA_MODIFIABLE, F)};
      CHK("  unwrap with EXTRACTABLE=T (conflict)", f->C_UnwrapKey(sr, &oaep, priv2, w, wl, t3, 9, &h)); }
    { CK_ATTRIBUTE t3[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kAES), A(CKA_TOKEN, T), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T),
        A(CKA_EXTRACTABLE, F), A(CKA_ENCRYPT, F), A(CKA_DECRYPT, F), A(CKA_DERIVE, T), A(CKA_SIGN, F), A(CKA_VERIFY, F),
        A(CKA_WRAP, F), A(CKA_UNWRAP, F), A(CKA_MODIFIABLE, F)};
      CHK("  unwrap with matching attrs (MODIFIABLE=F last)", f->C_UnwrapKey(sr, &oaep, priv2, w, wl, t3, 14, &h));
      if (h) { show_bools(sr, h); fp("runtime K1 via unwrap-tpl", sr, h, CKM_AES_ECB_ENCRYPT_DATA); } }
    { CK_ATTRIBUTE c[] = {{CKA_UNWRAP_TEMPLATE, ut, sizeof ut}};
      CHK("  SetAttr(privR, CKA_UNWRAP_TEMPLATE) on non-modifiable", f->C_SetAttributeValue(sr, privR, c, 1)); }
  }
  /* ---- 4 single-DES usability (legacy profile) on this SoftHSM/OpenSSL 3 build ---- */
  printf("[4] single DES usability\n");
  { CK_BYTE dv[8] = {0x01,0x23,0x45,0x67,0x89,0xab,0xcd,0xef}; CK_OBJECT_HANDLE dk; CK_BYTE out[16]; CK_ULONG ol = 16;
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, cSec), A(CKA_KEY_TYPE, kDES), A(CKA_TOKEN, F), {CKA_VALUE, dv, 8}, A(CKA_ENCRYPT, T), A(CKA_DERIVE, T)};
    CHK("C_CreateObject DES (ENCRYPT, DERIVE)", f->C_CreateObject(sr, t, 6, &dk));
    CK_MECHANISM m = {CKM_DES_ECB, NULL, 0}; CHK("C_EncryptInit CKM_DES_ECB", f->C_EncryptInit(sr, &m, dk));
    if (!rv) CHK("C_Encrypt", f->C_Encrypt(sr, (CK_BYTE_PTR)"12345678", 8, out, &ol));
    fp("DES key, DES_ECB_ENCRYPT_DATA", sr, dk, CKM_DES_ECB_ENCRYPT_DATA); }
  f->C_Finalize(NULL);
  return 0;
}
