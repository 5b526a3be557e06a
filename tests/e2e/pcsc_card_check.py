#!/usr/bin/python3
"""The simulated card as a PC/SC application sees it (pyscard over pcscd and
vsmartcard's vpcd reader, the card being `chipsim vpcd`), what pySim-shell does
first with a card: the ATR, EF_ICCID, EF_DIR for the USIM's AID, SELECT by
that AID, EF_IMSI behind VERIFY PIN, EF_AD, EF_LOCI updated and read back, and
AUTHENTICATE with a vector the
network (kmsd, over GSUP) made. Driven by tests/e2e/chipsim_e2e_test.cc, which
starts pcscd and chipsim and passes the expected values.

Exit 0 when every answer is the expected one; otherwise 1 with the first
difference on stderr. Status words are the card's T=0 ones: 61 XX is fetched
with GET RESPONSE, as pySim's transport does.
"""
import argparse
import sys
import time

from smartcard.CardConnection import CardConnection
from smartcard.System import readers
from smartcard.util import toBytes, toHexString


def hexstr(data):
    return toHexString(list(data)).replace(" ", "").lower()


class Failure(Exception):
    pass


def expect(what, got, wanted):
    if got != wanted:
        raise Failure(f"{what}: got {got}, expected {wanted}")
    print(f"ok: {what}")


class Card:
    def __init__(self, connection):
        self.connection = connection

    def send(self, apdu_hex):
        """One command; response data and SW as 4 hex digits, after GET RESPONSE."""
        data, sw1, sw2 = self.connection.transmit(toBytes(apdu_hex))
        if sw1 == 0x61:
            data, sw1, sw2 = self.connection.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
        return bytes(data), f"{sw1:02x}{sw2:02x}"

    def ok(self, what, apdu_hex):
        data, sw = self.send(apdu_hex)
        expect(what + " status", sw, "9000")
        return data


def find_reader(name, timeout_s):
    deadline = time.time() + timeout_s
    while True:
        try:
            for r in readers():
                if name in str(r):
                    connection = r.createConnection()
                    connection.connect(CardConnection.T0_protocol)
                    return connection
        except Exception as e:  # no card yet, or pcscd not ready: retry until the deadline
            last = e
        else:
            last = f"no reader named {name!r} in {readers()}"
        if time.time() > deadline:
            raise Failure(f"no card in a '{name}' reader after {timeout_s} s: {last}")
        time.sleep(0.2)


def tlvs(data):
    """Simple BER-TLV with one-byte tags and lengths below 128: tag -> value."""
    out, i = {}, 0
    while i + 2 <= len(data):
        tag, length = data[i], data[i + 1]
        out.setdefault(tag, data[i + 2:i + 2 + length])
        i += 2 + length
    return out


def run(args):
    card = Card(find_reader(args.reader, 20))
    expect("ATR", hexstr(card.connection.getATR()), args.atr)

    card.ok("SELECT MF", "00A4000C023F00")
    card.ok("SELECT EF_ICCID", "00A4000C022FE2")
    expect("EF_ICCID", hexstr(card.ok("READ BINARY EF_ICCID", "00B000000A")), args.ef_iccid)

    # EF_DIR: the record length from the FCP's file descriptor, then record 1.
    fcp = tlvs(card.ok("SELECT EF_DIR", "00A40004022F00")[2:])
    descriptor = fcp[0x82]
    expect("EF_DIR is linear fixed", descriptor[0] & 0x07, 0x02)
    record = card.ok("READ RECORD EF_DIR", "00B20104%02X" % descriptor[3])
    expect("EF_DIR record is an application template", record[0], 0x61)
    template = tlvs(record[2:2 + record[1]])
    aid = template[0x4F]
    expect("EF_DIR application label", template[0x50], b"USIM")
    expect("AID is a USIM's (RID A0 00 00 00 87, 10 02)", hexstr(aid[:7]), "a0000000871002")

    adf = tlvs(card.ok("SELECT ADF.USIM by AID", "00A40404%02X%s" % (len(aid), hexstr(aid)))[2:])
    expect("ADF.USIM's FCP names its AID", hexstr(adf[0x84]), hexstr(aid))

    card.ok("SELECT EF_IMSI", "00A4000C026F07")
    expect("READ BINARY EF_IMSI before VERIFY", card.send("00B0000009")[1], "6982")
    card.ok("VERIFY PIN", "0020000108" + args.pin.encode().hex() + "ff" * (8 - len(args.pin)))
    expect("EF_IMSI", hexstr(card.ok("READ BINARY EF_IMSI", "00B0000009")), args.ef_imsi)
    expect("EF_AD's MNC length", card.ok("READ BINARY EF_AD by SFI 03", "00B0830004")[3], 2)
    # A location update, as a handset writes it: the card keeps it (its image, non-volatile).
    card.ok("UPDATE BINARY EF_LOCI by SFI 0B", "00D68B000B" + args.loci)
    expect("EF_LOCI", hexstr(card.ok("READ BINARY EF_LOCI", "00B08B000B")), args.loci)

    answer = card.ok("AUTHENTICATE (3G)", "008800812210%s10%s" % (args.rand, args.autn))
    expect("AUTHENTICATE tag", answer[0], 0xDB)
    res_len = answer[1]
    res = answer[2:2 + res_len]
    ck = answer[3 + res_len:3 + res_len + 16]
    ik = answer[4 + res_len + 16:4 + res_len + 32]
    expect("RES", hexstr(res), args.res)
    expect("CK", hexstr(ck), args.ck)
    expect("IK", hexstr(ik), args.ik)
    expect("the same vector again: sync failure (AUTS)", card.ok("AUTHENTICATE replayed",
           "008800812210%s10%s" % (args.rand, args.autn))[0], 0xDC)
    card.connection.disconnect()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reader", default="Virtual PCD")
    for name in ("atr", "ef-iccid", "ef-imsi", "pin", "rand", "autn", "res", "ck", "ik", "loci"):
        p.add_argument("--" + name, required=True)
    args = p.parse_args()
    try:
        run(args)
    except Failure as e:
        print(f"pcsc_card_check: {e}", file=sys.stderr)
        return 1
    print("pcsc_card_check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
