/* Unit tests for b64: RFC 4648 vectors, folded input, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "b64.h"

#include <string.h>

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        uint8_t back[16];
        assert_int_equal(b64_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof(out)),
                         (int)strlen(coded[i]));
        assert_string_equal(out, coded[i]);
        assert_int_equal(b64_decode(coded[i], strlen(coded[i]), back, sizeof(back)),
                         (int)strlen(plain[i]));
        assert_memory_equal(back, plain[i], strlen(plain[i]));
    }
}

static void test_folded_and_unpadded(void **state)
{
    (void)state;
    uint8_t out[16];
    const char *folded = "Zm9v\r\n\tYmFy";
    assert_int_equal(b64_decode(folded, strlen(folded), out, sizeof(out)), 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(b64_decode("Zm9vYg", 6, out, sizeof(out)), 4);
}

static void test_refused(void **state)
{
    (void)state;
    uint8_t out[16];
    static const char *const bad[] = {
        "Z", "Zm9v!", "Zg=a", "Zg===", "Zh==", "Zm8=Zm8=", "Zm9=", "-_=="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (b64_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5), -1);
    char small[8];
    assert_int_equal(b64_encode((const uint8_t *)"foobar", 6, small, sizeof(small)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_folded_and_unpadded),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
