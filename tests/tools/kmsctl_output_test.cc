// kmsctl's text output never passes a control character to the terminal
// (issue 11: an order id with ESC sequences and a newline, printed raw by
// `kmsctl audit show`, forged a line and coloured the screen).
#include <gtest/gtest.h>

#include <sstream>

#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

TEST(KmsctlOutput, EscapeForTerminalEscapesEveryNonPrintableByte) {
  EXPECT_EQ(EscapeForTerminal("order-42 Zürich €"), "order-42 Zürich €");  // printable ASCII and UTF-8 kept
  EXPECT_EQ(EscapeForTerminal("a\x1b[31mred\x1b[0m"), "a\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(EscapeForTerminal("x\n42  00:00  custodian:root"), "x\\x0a42  00:00  custodian:root");
  EXPECT_EQ(EscapeForTerminal(std::string("nul\0cr\rtab\tdel\x7f", 15)), "nul\\x00cr\\x0dtab\\x09del\\x7f");
  EXPECT_EQ(EscapeForTerminal("c1 \xc2\x9b" "31m"), "c1 \\xc2\\x9b31m");  // U+009B CSI, the 8-bit escape
  EXPECT_EQ(EscapeForTerminal("bad \xff\xc3"), "bad \\xff\\xc3");        // invalid UTF-8
  EXPECT_EQ(EscapeForTerminal("overlong \xe0\x80\x9b"), "overlong \\xe0\\x80\\x9b");
  EXPECT_EQ(EscapeForTerminal("back\\x1b"), "back\\\\x1b");  // a literal backslash cannot fake an escape
}

TEST(KmsctlOutput, TablesAndFieldsPrintEscapedCellsButJsonKeepsTheValue) {
  Table t({"seq", "subject"});
  t.AddRow({"7", "o\n8  forged\x1b[2J"});
  std::ostringstream text;
  t.Print(text);
  EXPECT_EQ(text.str(), "seq  subject\n---  ---------------------\n7    o\\x0a8  forged\\x1b[2J\n");
  EXPECT_EQ(t.ToJson()[0]["subject"], "o\n8  forged\x1b[2J");  // dump() escapes it as \u001b
  EXPECT_NE(t.ToJson().dump().find("\\u001b"), std::string::npos);
  Fields f;
  f.Add("problem", "x\ry");
  std::ostringstream fields;
  f.Print(fields);
  EXPECT_EQ(fields.str(), "problem:  x\\x0dy\n");
}

}  // namespace
}  // namespace simkms::kmsctl
